//! A closed-loop load driver: `connections` tasks, each with one operation in flight at a time,
//! until the phase's time is up or its operation budget is spent. Latencies go into an HDR
//! histogram (microseconds, 3 significant digits); failures are counted by kind.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one phase of load did.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Operations started (and finished: a phase waits for every operation it started).
    pub operations: u64,
    /// Operations that ended as expected.
    pub ok: u64,
    /// Failed operations by kind (e.g. `"422 refresh_intent_in_progress"`).
    pub errors: BTreeMap<String, u64>,
    /// Latency of every operation, ok or not, in microseconds.
    pub latency: Histogram<u64>,
    /// From the first operation's start to the last one's end.
    pub elapsed: Duration,
}

impl LoadOutcome {
    /// Operations per second, counting only successful ones.
    pub fn ok_per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Failed operations.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// A latency quantile (0.5, 0.99, 0.999) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// Failures, one `kind × count` per line, for problem lists.
    pub fn error_summary(&self) -> String {
        self.errors
            .iter()
            .map(|(kind, n)| format!("{n} × {kind}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs `op(i)` for i = 0, 1, 2, … from `connections` tasks until `duration` has passed or
/// `limit` operations were started, and waits for the last ones to end.
pub async fn closed_loop<F, Fut>(
    connections: usize,
    duration: Duration,
    limit: Option<u64>,
    op: F,
) -> anyhow::Result<LoadOutcome>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.spawn(async move {
            let mut latency = new_histogram();
            let mut ok = 0u64;
            let mut errors = BTreeMap::<String, u64>::new();
            loop {
                if start.elapsed() >= duration {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|limit| i >= limit) {
                    break;
                }
                let began = Instant::now();
                let result = op(i).await;
                let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(micros.max(1));
                match result {
                    Ok(()) => ok += 1,
                    Err(kind) => *errors.entry(kind).or_default() += 1,
                }
            }
            (latency, ok, errors)
        });
    }
    let mut outcome = LoadOutcome {
        operations: 0,
        ok: 0,
        errors: BTreeMap::new(),
        latency: new_histogram(),
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        let (latency, ok, errors) = joined?;
        outcome.latency.add(&latency)?;
        outcome.ok += ok;
        for (kind, n) in errors {
            *outcome.errors.entry(kind).or_default() += n;
        }
    }
    outcome.elapsed = start.elapsed();
    outcome.operations = outcome.latency.len();
    Ok(outcome)
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 minutes, 3 significant digits; longer values are clamped, not lost.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Sends `request` and maps the answer to ok (the expected status) or a failure kind naming the
/// status and the Fintoc error code.
pub async fn expect_status(request: reqwest::RequestBuilder, expected: u16) -> Result<(), String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("transport: {}", short_error(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading: {}", short_error(&e)))?;
    if status == expected {
        return Ok(());
    }
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Err(format!("{status} {code}").trim_end().to_owned())
}

fn short_error(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "request"
    }
}
