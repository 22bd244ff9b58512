//! Several runs from the command line (`refresco-bench` with more than one scenario, or
//! `--backend both`): each scenario on each backend runs in a child process of its own,
//! `refresco-bench <scenario> --backend <one> … --json <file>`, and their reports are put
//! together into one.
//!
//! Why a process each: S3's figure is the process's peak RSS, and a process that has run other
//! scenarios keeps memory they freed. sqlx runs every SQLite connection on a thread of its own;
//! when a scenario's server stops, those threads exit, and the allocator keeps the pages they
//! freed resident until another thread reclaims them (60–90 MB after S1 and S2; purging them at
//! once cost S2 18%, BENCHMARKS.md). S3 measured 319 MB after them and 271 MB in a fresh
//! process. A process per run also makes every figure independent of the order of the runs.

use std::ffi::OsString;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use super::{BackendChoice, BenchArgs, Machine, Report, Scenario};

/// The runs `args` asks for, in order: every selected scenario on SQLite, then on PostgreSQL.
pub fn runs(args: &BenchArgs) -> Vec<(Scenario, BackendChoice)> {
    args.backends()
        .into_iter()
        .flat_map(|backend| args.selected().into_iter().map(move |s| (s, backend)))
        .collect()
}

/// The command line of a child that runs `scenario` on `backend` with every other setting of
/// `args`, writing its report to `json`.
pub fn child_args(
    args: &BenchArgs,
    scenario: Scenario,
    backend: BackendChoice,
    json: &Path,
) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec![name(&scenario).into()];
    let mut option = |name: &str, v: Option<OsString>| {
        if let Some(v) = v {
            out.push(format!("--{name}").into());
            out.push(v);
        }
    };
    let text = |v: &dyn ToString| Some(OsString::from(v.to_string()));
    // humantime's own notation (`1s 500ms`), which `parse_duration` reads back exactly.
    let duration =
        |d: std::time::Duration| OsString::from(humantime::format_duration(d).to_string());
    option("backend", Some(name(&backend).into()));
    option("database-url", args.database_url.clone().map(Into::into));
    option("duration", args.duration.map(duration));
    option("connections", args.connections.and_then(|v| text(&v)));
    option("links", args.links.and_then(|v| text(&v)));
    option("refreshes", args.refreshes.and_then(|v| text(&v)));
    option("latency", args.latency.map(duration));
    option("movements", args.movements.and_then(|v| text(&v)));
    option("history", args.history.and_then(|v| text(&v)));
    option("events", args.events.and_then(|v| text(&v)));
    option("per-endpoint", args.per_endpoint.and_then(|v| text(&v)));
    option("json", Some(json.into()));
    option("work-dir", args.work_dir.clone().map(Into::into));
    if args.smoke {
        out.push("--smoke".into());
    }
    out
}

/// A choice as written on the command line.
fn name<T: clap::ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

/// Runs every run of `args` in a child process of `exe` (this program), in order; writes the
/// combined JSON report to `--json` and prints which targets each run met. Answers whether
/// every run behaved correctly (a child's exit status says it).
pub async fn run(args: &BenchArgs, exe: &Path) -> anyhow::Result<bool> {
    let dir = tempfile::Builder::new()
        .prefix("refresco-bench-reports-")
        .tempdir()?;
    let mut results = Vec::new();
    let mut all_correct = true;
    for (i, (scenario, backend)) in runs(args).into_iter().enumerate() {
        let json = dir.path().join(format!("{i}.json"));
        let status = tokio::process::Command::new(exe)
            .args(child_args(args, scenario, backend, &json))
            .stdin(std::process::Stdio::null())
            .status()
            .await
            .with_context(|| format!("starting {}", exe.display()))?;
        all_correct &= status.success();
        // A child that failed before its report (it could not reach PostgreSQL, say) is a
        // failed run, already explained on its stderr.
        let Ok(text) = std::fs::read_to_string(&json) else {
            all_correct = false;
            continue;
        };
        let report: Value = serde_json::from_str(&text).context("a child's JSON report")?;
        if let Some(runs) = report["results"].as_array() {
            results.extend(runs.iter().cloned());
        }
    }
    println!("{}", summary(&results));
    if let Some(path) = &args.json {
        let report = Report {
            machine: Machine::detect(),
            smoke: args.smoke,
            results,
        };
        report.write_json(path)?;
    }
    Ok(all_correct)
}

/// One line per target of every run, and the runs' problems.
fn summary(results: &[Value]) -> String {
    let mut lines = vec![format!(
        "{} run(s), each in its own process; targets:",
        results.len()
    )];
    for result in results {
        let run = format!("{} on {}", result["scenario"], result["backend"]).replace('"', "");
        for target in result["targets"].as_array().into_iter().flatten() {
            lines.push(format!(
                "  {run}: {} {} measured {}: {}",
                target["name"].as_str().unwrap_or_default(),
                target["target"].as_str().unwrap_or_default(),
                target["measured"].as_str().unwrap_or_default(),
                if target["met"] == true {
                    "MET"
                } else {
                    "MISSED"
                },
            ));
        }
        for problem in result["problems"].as_array().into_iter().flatten() {
            lines.push(format!(
                "  {run}: PROBLEM {}",
                problem.as_str().unwrap_or_default()
            ));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    /// A child's command line parses back into the parent's settings, for one scenario and
    /// one backend.
    #[test]
    fn a_childs_command_line_carries_every_setting() {
        let parent = BenchArgs {
            scenarios: vec![Scenario::All],
            backend: BackendChoice::Both,
            database_url: Some("postgres://u@127.0.0.1:5432/db".into()),
            smoke: true,
            duration: Some(Duration::from_millis(1500)),
            connections: Some(7),
            links: Some(11),
            refreshes: Some(13),
            latency: Some(Duration::from_secs(30)),
            movements: Some(17),
            history: Some(19),
            events: Some(23),
            per_endpoint: Some(29),
            json: Some("/somewhere/all.json".into()),
            work_dir: Some("/var/tmp/bench".into()),
        };
        let child = child_args(
            &parent,
            Scenario::S3,
            BackendChoice::Postgres,
            Path::new("/tmp/3.json"),
        );
        let parsed = BenchArgs::try_parse_from(
            std::iter::once(OsString::from("refresco-bench")).chain(child.iter().cloned()),
        )
        .unwrap();
        let expected = BenchArgs {
            scenarios: vec![Scenario::S3],
            backend: BackendChoice::Postgres,
            json: Some("/tmp/3.json".into()),
            ..parent
        };
        assert_eq!(parsed, expected);
    }

    #[test]
    fn runs_are_every_scenario_on_sqlite_then_on_postgres() {
        let args = BenchArgs {
            scenarios: vec![Scenario::S4, Scenario::S1],
            backend: BackendChoice::Both,
            ..BenchArgs::default()
        };
        use {BackendChoice::*, Scenario::*};
        assert_eq!(
            runs(&args),
            [(S1, Sqlite), (S4, Sqlite), (S1, Postgres), (S4, Postgres)]
        );
        assert_eq!(runs(&BenchArgs::default()).len(), 6);
    }
}
