//! S3: many refreshes in flight at once on a slow bank. `refreshes` intents are created on
//! seeded `+instant` links whose password adds `+slow<latency>` (every bank call, login,
//! accounts and each account's movements, waits that long: 4 calls per refresh), with
//! `worker_concurrency` large enough to hold them all. While they wait, the process should hold
//! little memory and burn little CPU (tasks parked on timers, heartbeats every lease/3).
//!
//! Memory is this process's peak RSS (`VmHWM` from `/proc/self/status`, reset before the
//! creates): the server runs in-process, so it includes the (small) load client. CPU is user +
//! system time from `/proc/self/stat` over the window between the last create and the first
//! completed refresh, when every refresh is waiting on the bank.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::harness::{self, load_client, Target};
use super::load::{closed_loop, expect_status};
use super::machine::{self, CpuWindow};
use super::{BenchArgs, ScenarioResult};

/// Bank calls in one refresh of an `+instant` link: login, accounts, and 2 × movements.
const BANK_CALLS: u32 = 4;

/// Runs S3.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<ScenarioResult> {
    let refreshes = args.pick(args.refreshes, 10_000, 50);
    let latency = args.pick(
        args.latency,
        Duration::from_secs(30),
        Duration::from_millis(200),
    );
    let connections = args.pick(args.connections, 64, 8);
    let mut result = ScenarioResult::new("s3", "refreshes in flight", target.label());
    result.param("refreshes", refreshes);
    result.param("bank_latency_per_call_ms", latency.as_millis());
    result.param("bank_calls_per_refresh", BANK_CALLS);
    result.param("worker_concurrency", refreshes);
    result.param("connections", connections);

    let prepared = harness::prepare(target, args.work_dir.as_ref(), |c| {
        c.worker_concurrency = refreshes.max(1);
    })
    .await?;
    let store = prepared.state.store.clone();
    result.database = store.seeding().database_version().await?;
    result.param("job_lease_secs", prepared.state.config.job_lease_secs);
    let template = prepared.template_link("jonsnow+instant").await?;
    let password = format!("jonsnow+instant+slow{}ms", latency.as_millis());
    store.seeding().begin().await?;
    let tokens = Arc::new(prepared.seed_links(&template, &password, refreshes).await?);
    store.seeding().finish().await?;

    let server = prepared.serve();
    let client = load_client(connections)?;
    let peak_reset = machine::reset_peak_rss();
    let rss_before = machine::rss_mb().unwrap_or(0.0);
    let started = Instant::now();
    let requests = server.create_requests(&client, tokens.clone());
    let creates = closed_loop(
        connections,
        Duration::from_secs(3600),
        Some(u64::try_from(refreshes)?),
        move |i| {
            let request = requests.nth(i);
            async move { expect_status(request, 201).await }
        },
    )
    .await?;
    let total = i64::try_from(creates.ok)?;

    // Waiting: every refresh sits on the bank until the first one comes back.
    let waiting = CpuWindow::start();
    let poll = Duration::from_millis(if args.smoke { 20 } else { 500 });
    let bank_time = latency * BANK_CALLS;
    let deadline = Instant::now() + bank_time * 3 + Duration::from_secs(600);
    let mut waiting_figures = None;
    let mut in_progress = store.seeding().intents_in_progress().await?;
    while in_progress > 0 && Instant::now() < deadline {
        tokio::time::sleep(poll).await;
        in_progress = store.seeding().intents_in_progress().await?;
        if waiting_figures.is_none() && in_progress < total {
            // The peak so far covers creating and waiting; what comes after is the herd of
            // refreshes coming back together and queueing to be recorded.
            waiting_figures = Some((waiting.stop(), machine::peak_rss_mb().unwrap_or(0.0)));
        }
    }
    let all_done = started.elapsed();
    let whole = waiting.stop();
    let peak = machine::peak_rss_mb().unwrap_or(0.0);

    result.figure("create throughput", creates.ok_per_second(), "req/s");
    result.figure("creating took", creates.elapsed.as_secs_f64(), "s");
    result.figure("RSS before creating", rss_before, "MB");
    result.figure("peak RSS", peak, "MB");
    result.figure(
        "peak RSS above baseline, per refresh",
        (peak - rss_before).max(0.0) * 1e3 / (refreshes.max(1) as f64),
        "KB",
    );
    if let Some(((cpu, percent, wall), peak_waiting)) = waiting_figures {
        result.figure(
            "peak RSS until the first refresh returned",
            peak_waiting,
            "MB",
        );
        result.figure("waiting window", wall.as_secs_f64(), "s");
        result.figure("CPU while waiting", percent, "% of a core");
        result.figure("CPU seconds while waiting", cpu, "s");
    }
    result.figure("CPU from last create to all done", whole.1, "% of a core");
    result.figure("all done after", all_done.as_secs_f64(), "s");
    let counts = store.seeding().counts().await?;
    result.figure(
        "jobs claimed more than once",
        counts.jobs_reclaimed as f64,
        "",
    );

    result.check(creates.error_count() == 0, || {
        format!("create errors: {}", creates.error_summary())
    });
    result.check(in_progress == 0, || {
        format!("{in_progress} refreshes still in progress at the deadline")
    });
    // Besides the template link's first history, which the seeded copies do not have.
    let succeeded = counts.intents("succeeded") - 1;
    result.check(succeeded == total, || {
        format!(
            "{succeeded} of {total} refreshes succeeded ({:?}, the template's first history included)",
            counts.intents_by_status
        )
    });
    result.check(peak_reset, || {
        "could not reset the peak RSS mark (/proc/self/clear_refs)".into()
    });
    if creates.elapsed >= bank_time {
        result.notes.push(
            "creating took longer than a refresh's bank time: the waiting window overlaps \
             completions"
                .into(),
        );
    }
    if !args.smoke {
        result.target(
            "peak RSS",
            "<= 300 MB",
            format!("{peak:.0} MB"),
            peak <= 300.0,
        );
    }
    server.stop().await?;
    Ok(result)
}
