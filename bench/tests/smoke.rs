//! The benchmark harness in tiny sizes (`refresco-bench --smoke`), so it cannot rot: every
//! scenario runs end to end and must behave correctly (every request answered as expected, every
//! refresh ended, every delivery recorded). No timing is asserted: figures from a shared CI
//! machine in a debug build mean nothing.
//!
//! PostgreSQL: `REFRESCO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! skipped with a note when unreachable, unless `CI` (or `REFRESCO_REQUIRE_POSTGRES=1`) is set.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

use refresco_bench::{self as bench, BackendChoice, BenchArgs, Report, ScenarioResult};
use sqlx::Connection;

fn args(backend: BackendChoice, database_url: Option<String>) -> BenchArgs {
    BenchArgs {
        smoke: true,
        backend,
        database_url,
        // S2's refreshes also find a stored history (its own correctness checks still hold).
        history: Some(10),
        ..BenchArgs::default()
    }
}

fn figure(result: &ScenarioResult, name: &str) -> f64 {
    result
        .value(name)
        .unwrap_or_else(|| panic!("{} has no figure {name:?}", result.scenario))
}

/// Asserts correctness only.
fn check(report: &Report, backend: &str) {
    let scenarios: Vec<&str> = report.results.iter().map(|r| r.scenario).collect();
    assert_eq!(scenarios, ["s1", "s2", "s3", "s4", "s5", "s6"]);
    for result in &report.results {
        assert_eq!(result.backend, backend);
        assert!(
            result.problems.is_empty(),
            "{} on {backend}: {:?}",
            result.scenario,
            result.problems
        );
        assert!(result.targets.is_empty(), "smoke runs judge no target");
    }
    let [s1, s2, s3, s4, s5, s6] = &report.results[..] else {
        unreachable!()
    };
    assert_eq!(figure(s1, "create errors"), 0.0);
    assert_eq!(figure(s1, "keyed create errors"), 0.0);
    assert!(figure(s1, "keyed create throughput") > 0.0);
    assert!(figure(s1, "links used") > 0.0);
    assert!(figure(s1, "healthz throughput (ceiling)") > 0.0);
    assert_eq!(
        figure(s2, "refreshes completed"),
        20.0,
        "every refresh completed"
    );
    assert_eq!(figure(s2, "webhooks received"), 20.0);
    // Each stage of a refresh is measured from the rows it left, on either engine.
    let stages = [
        "create → job started, mean",
        "job started → bank answered, mean",
        "bank answered → webhook attempted, mean",
    ];
    for stage in stages {
        assert!(figure(s2, stage) >= 0.0, "{stage}");
    }
    let stages_ms: f64 = stages.iter().map(|stage| figure(s2, stage)).sum();
    assert!(stages_ms > 0.0, "a refresh takes time somewhere");
    assert_eq!(figure(s3, "jobs claimed more than once"), 0.0);
    assert!(figure(s3, "peak RSS") > 0.0);
    assert!(figure(s4, "movements in the database") >= 20_000.0);
    assert!(figure(s4, "page throughput") > 0.0);
    assert_eq!(figure(s5, "deliveries recorded delivered"), 500.0);
    assert!(figure(s5, "attempts recorded") >= 500.0);
    assert_eq!(figure(s6, "links created"), 20.0);
    assert_eq!(figure(s6, "first histories succeeded"), 20.0);
    assert!(report.all_correct());
    assert!(report.render().contains("S5 webhook backlog"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_on_sqlite() {
    let report = bench::run(&args(BackendChoice::Sqlite, None))
        .await
        .expect("bench runs");
    check(&report, "sqlite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_on_postgres() {
    let url = std::env::var("REFRESCO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    if let Err(e) = sqlx::PgConnection::connect(&url).await {
        let required = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
            || std::env::var("REFRESCO_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "PostgreSQL is required in CI but unreachable: {e}"
        );
        eprintln!("NOTE: PostgreSQL unreachable ({e}); the PostgreSQL bench smoke is SKIPPED");
        return;
    }
    let report = bench::run(&args(BackendChoice::Postgres, Some(url)))
        .await
        .expect("bench runs");
    check(&report, "postgres");
}

/// Runs `refresco-bench` with `args`; answers whether it succeeded, and its stdout and stderr.
fn run_cli(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_refresco-bench"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("refresco-bench runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The command line: scenario selection, sizes, and the JSON report with the machine.
#[test]
fn the_cli_runs_a_scenario_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let (ok, stdout, stderr) = run_cli(&[
        "s5",
        "--smoke",
        "--events",
        "50",
        "--json",
        json.to_str().unwrap(),
        "--work-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("S5 webhook backlog on sqlite"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(report["machine"]["cpu"].is_string());
    assert_eq!(report["results"][0]["scenario"], "s5");
    let parameter = |name: &str| {
        report["results"][0]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == name)
            .map(|p| p[1].clone())
    };
    assert_eq!(parameter("events"), Some(serde_json::json!("50")));
    // One run: in this very process (`isolated.rs` gives each of several its own).
    assert!(parameter("process").is_some_and(|p| p.as_str().unwrap().parse::<u32>().is_ok()));
    assert_eq!(report["results"][0]["problems"], serde_json::json!([]));
}

/// Several scenarios run each in a process of its own (S3's memory figure is the process's,
/// see `isolated.rs`), and their reports are put together.
#[test]
fn several_scenarios_run_each_in_its_own_process() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let (ok, out, err) = run_cli(&[
        "s5",
        "s1",
        "--smoke",
        "--json",
        json.to_str().unwrap(),
        "--work-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{out}\n{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    let scenarios: Vec<&str> = results
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(scenarios, ["s1", "s5"], "in order, one each");
    let process = |r: &serde_json::Value| -> String {
        let parameters = r["parameters"].as_array().unwrap();
        let entry = parameters
            .iter()
            .find(|p| p[0] == "process")
            .expect("a process parameter");
        entry[1].as_str().unwrap().to_owned()
    };
    assert_ne!(process(&results[0]), process(&results[1]));
    assert!(report["machine"].is_object(), "{report}");
    assert!(out.contains("2 run(s), each in its own process"), "{out}");
}
