//! `refresco-bench`: reproducible load scenarios against Refresco started **in this process**
//! (on a temporary SQLite data directory, or a fresh database created on a PostgreSQL server and
//! dropped afterwards), driven over loopback (127.0.0.1) by an HTTP client with a pool of
//! `--connections` connections.
//!
//! | scenario | what it measures |
//! |---|---|
//! | `s1` create | `POST /v1/refresh_intents` over ≥ 50,000 seeded links (no worker), beside the `GET /healthz` ceiling of the same server and client |
//! | `s2` refresh | end-to-end refreshes through the `+instant` sandbox bank (2 accounts × 25 new movements), to the link-level webhook on a local receiver |
//! | `s3` in flight | 10,000 refreshes waiting on a bank with 30 s latency per call: peak RSS and CPU while waiting |
//! | `s4` read | `per_page=300` pages of movements on a database of ≥ 5 million movements |
//! | `s5` webhooks | a backlog of 100,000 events to one endpoint: signed deliveries per second, attempts recorded |
//! | `s6` links | `POST /v1/links` on the sandbox bank's default history: links per second, and links whose first history succeeded |
//!
//! Every scenario checks its own correctness (every answer expected, every refresh ended, every
//! delivery recorded) and lists what went wrong in [`ScenarioResult::problems`]; the smoke test
//! (`bench/tests/smoke.rs`) runs each in a tiny configuration and asserts only that.
//! Figures and how to read them: `BENCHMARKS.md`.
//!
//! A crate of its own, beside the server's: it uses only `refresco`'s public API, plus
//! `refresco::store::seeding` to write data at a scale the API cannot create quickly, so the
//! server carries none of its code or dependencies.

mod harness;
pub mod isolated;
mod load;
mod machine;
mod pg_ceiling;
mod receiver;
mod report;
mod s1_create;
mod s2_refresh;
mod s3_in_flight;
mod s4_read;
mod s5_webhooks;
mod s6_links;

use std::path::PathBuf;
use std::time::Duration;

pub use harness::Target;
pub use machine::Machine;
pub use report::{Figure, Report, ScenarioResult, TargetCheck};

/// A scenario to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Refresh intent creation vs. the /healthz ceiling.
    S1,
    /// End-to-end refreshes to the webhook.
    S2,
    /// 10,000 refreshes in flight on a slow bank.
    S3,
    /// Movement pages on 5 million movements.
    S4,
    /// A backlog of webhook deliveries.
    S5,
    /// Link creation, with the first history.
    S6,
    /// Every scenario, in order.
    All,
}

/// Which database(s) to run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// A temporary SQLite data directory.
    #[default]
    Sqlite,
    /// A fresh database on the PostgreSQL server of `--database-url`.
    Postgres,
    /// SQLite, then PostgreSQL.
    Both,
}

/// Run load scenarios against an in-process Refresco and print the figures (see BENCHMARKS.md).
///
/// Unset sizes take each scenario's full size, or its smoke size with `--smoke`.
#[derive(Clone, Debug, Default, PartialEq, clap::Parser)]
#[command(name = "refresco-bench", version)]
pub struct BenchArgs {
    /// Scenarios to run: s1 s2 s3 s4 s5 s6, or all (the default).
    #[arg(value_enum)]
    pub scenarios: Vec<Scenario>,
    /// Database to run on.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: BackendChoice,
    /// A PostgreSQL server (`postgres://user@host:port/db`) on which a fresh database is
    /// created for each scenario and dropped after it.
    #[arg(
        long,
        env = "REFRESCO_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Tiny sizes that finish in seconds (the CI smoke run); figures are meaningless.
    #[arg(long)]
    pub smoke: bool,
    /// Length of each timed load phase (s1, s2, s4), e.g. `20s`, `500ms`, `1m` (a bare number
    /// is seconds).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Concurrent client connections (the client's pool holds exactly this many).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Links seeded for s1 (at least 50,000 in a full run) and s2; a cap on s6's.
    #[arg(long)]
    pub links: Option<usize>,
    /// Refreshes for s3 (10,000), or a cap on s2's.
    #[arg(long)]
    pub refreshes: Option<usize>,
    /// Latency of every bank call in s3, e.g. `30s` or `1m`.
    #[arg(long, value_parser = parse_duration)]
    pub latency: Option<Duration>,
    /// Movements seeded for s4 (5,000,000).
    #[arg(long)]
    pub movements: Option<u64>,
    /// Movements already stored on each account of s2's links before the run (0), dated
    /// before the refresh's window: what a refresh of an account with a history finds.
    #[arg(long)]
    pub history: Option<u64>,
    /// Events in the s5 backlog (100,000).
    #[arg(long)]
    pub events: Option<u64>,
    /// Deliveries in flight to the one endpoint of s2 and s5
    /// (`webhook_per_endpoint_concurrency`; the benchmark uses 64).
    #[arg(long)]
    pub per_endpoint: Option<u32>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where temporary data directories go (default: the system's temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

impl BenchArgs {
    /// The scenarios to run, in order.
    fn selected(&self) -> Vec<Scenario> {
        let all = [
            Scenario::S1,
            Scenario::S2,
            Scenario::S3,
            Scenario::S4,
            Scenario::S5,
            Scenario::S6,
        ];
        if self.scenarios.is_empty() || self.scenarios.contains(&Scenario::All) {
            return all.to_vec();
        }
        all.into_iter()
            .filter(|s| self.scenarios.contains(s))
            .collect()
    }

    fn targets(&self) -> anyhow::Result<Vec<Target>> {
        let postgres = || -> anyhow::Result<Target> {
            let url = self.database_url.clone().ok_or_else(|| {
                anyhow::anyhow!("--backend postgres needs --database-url postgres://…")
            })?;
            Ok(Target::Postgres { admin_url: url })
        };
        self.backends()
            .into_iter()
            .map(|backend| match backend {
                BackendChoice::Postgres => postgres(),
                _ => Ok(Target::Sqlite),
            })
            .collect()
    }

    /// The one backend, or SQLite then PostgreSQL for `Both`.
    fn backends(&self) -> Vec<BackendChoice> {
        match self.backend {
            BackendChoice::Both => vec![BackendChoice::Sqlite, BackendChoice::Postgres],
            one => vec![one],
        }
    }

    /// Each timed phase, full or smoke.
    fn duration_or(&self, full: Duration, smoke: Duration) -> Duration {
        self.duration
            .unwrap_or(if self.smoke { smoke } else { full })
    }

    fn pick<T: Copy>(&self, given: Option<T>, full: T, smoke: T) -> T {
        given.unwrap_or(if self.smoke { smoke } else { full })
    }
}

/// The command line: one run in this process, several each in a process of its own (see
/// [`isolated`]). Prints the report; answers whether every run behaved correctly.
pub async fn run_from_cli(args: &BenchArgs) -> anyhow::Result<bool> {
    if isolated::runs(args).len() > 1 {
        let exe = std::env::current_exe()?;
        return isolated::run(args, &exe).await;
    }
    let report = run(args).await?;
    println!("{}", report.render());
    Ok(report.all_correct())
}

/// Runs the selected scenarios on the selected backends in this process and returns the report
/// (`--json` also writes it).
pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let machine = Machine::detect();
    let mut results = Vec::new();
    for target in args.targets()? {
        for scenario in args.selected() {
            eprintln!("bench: {} on {} …", scenario_name(scenario), target.label());
            let result = match scenario {
                Scenario::S1 => s1_create::run(args, &target).await?,
                Scenario::S2 => s2_refresh::run(args, &target).await?,
                Scenario::S3 => s3_in_flight::run(args, &target).await?,
                Scenario::S4 => s4_read::run(args, &target).await?,
                Scenario::S5 => s5_webhooks::run(args, &target).await?,
                Scenario::S6 => s6_links::run(args, &target).await?,
                Scenario::All => unreachable!("expanded by selected()"),
            };
            eprint!("{}", report::render_one(&result));
            results.push(result);
        }
    }
    let report = Report {
        machine,
        smoke: args.smoke,
        results,
    };
    if let Some(path) = &args.json {
        report.write_json(path)?;
    }
    Ok(report)
}

fn scenario_name(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::S1 => "S1 create",
        Scenario::S2 => "S2 refresh end to end",
        Scenario::S3 => "S3 in flight",
        Scenario::S4 => "S4 read",
        Scenario::S5 => "S5 webhooks",
        Scenario::S6 => "S6 links",
        Scenario::All => "all",
    }
}

/// Parses a duration as `humantime` does (`20s`, `500ms`, `1.5s`, `2m`, `1h 30m`), or a bare
/// number as seconds (`3`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bare_number = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
    let result = if bare_number {
        humantime::parse_duration(&format!("{text}s"))
    } else {
        humantime::parse_duration(text)
    };
    result.map_err(|e| format!("{text:?} is not a duration like 20s, 500ms or 2m: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1s 500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 30s "), Ok(Duration::from_secs(30)));
        // humantime's larger units, which the hand-written parser refused.
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(3 * 3600)));
        // A bare number is seconds.
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("1.2.3").is_err());
        assert!(parse_duration(".").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn all_expands_in_order() {
        let args = BenchArgs {
            scenarios: vec![Scenario::S4, Scenario::S1],
            ..BenchArgs::default()
        };
        assert_eq!(args.selected(), vec![Scenario::S1, Scenario::S4]);
        assert_eq!(BenchArgs::default().selected().len(), 6);
    }
}
