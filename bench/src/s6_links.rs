//! S6: link creation. Each of `connections` clients sends `POST /v1/links` for a Chilean
//! sandbox test user (`jonsnow`: the sandbox's default history, 6 months on 2 accounts) and
//! waits for the answer, then the next, for the phase's time. A create logs in, lists the
//! accounts and stores the link in the request; the movements come with the link's first
//! history, a `historical` refresh intent the worker of the same process runs in the
//! background. So two figures: links answered per second (the request), and links whose
//! first history succeeded per second, from the first create to the last history's end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::harness::{self, load_client, Target};
use super::load::{closed_loop, expect_status};
use super::{BenchArgs, ScenarioResult};

/// The sandbox's Chilean test individuals; clients take them in turn.
const USERS: [&str; 3] = ["41614850-3", "40427672-7", "41579263-8"];

/// Runs S6.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<ScenarioResult> {
    let connections = args.pick(args.connections, 64, 4);
    let duration = args.duration_or(Duration::from_secs(20), Duration::from_secs(60));
    let limit = args.pick(args.links, 1_000_000, 20);
    let mut result = ScenarioResult::new("s6", "create links", target.label());
    result.param("connections", connections);
    result.param("duration_s", duration.as_secs_f64());
    result.param("bank", "cl_banco_sandbox, jonsnow (default history)");

    let prepared = harness::prepare(target, args.work_dir.as_ref(), |_| {}).await?;
    let store = prepared.state.store.clone();
    result.database = store.seeding().database_version().await?;
    result.param(
        "worker_concurrency",
        prepared.state.config.worker_concurrency,
    );
    let server = prepared.serve();
    let client = load_client(connections)?;
    let (url, key) = (
        Arc::new(format!("{}/v1/links", server.base)),
        Arc::new(server.keys.secret_key.clone()),
    );

    let started = Instant::now();
    let creates = {
        let client = client.clone();
        closed_loop(
            connections,
            duration,
            Some(u64::try_from(limit)?),
            move |i| {
                let user = USERS[usize::try_from(i).unwrap_or(0) % USERS.len()];
                let request = client
                    .post(url.as_str())
                    .header("Authorization", key.as_str())
                    .json(&json!({
                        "institution_id": "cl_banco_sandbox",
                        "username": user,
                        "password": "jonsnow",
                        "holder_type": "individual",
                    }));
                async move { expect_status(request, 201).await }
            },
        )
        .await?
    };

    // Every first history runs to its end, each in its own refresh intent.
    let deadline = Instant::now() + Duration::from_secs(if args.smoke { 120 } else { 600 });
    let counts = loop {
        let counts = store.seeding().counts().await?;
        if counts.intents("created") == 0 || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let with_history = started.elapsed();
    let succeeded = u64::try_from(counts.intents("succeeded")).unwrap_or(0);

    result.figure("links created", creates.ok as f64, "");
    result.figure("link create throughput", creates.ok_per_second(), "links/s");
    result.figure("link create p50", creates.quantile_ms(0.5), "ms");
    result.figure("link create p99", creates.quantile_ms(0.99), "ms");
    result.figure("link create errors", creates.error_count() as f64, "");
    result.figure("first histories succeeded", succeeded as f64, "");
    result.figure(
        "links with their history",
        succeeded as f64 / with_history.as_secs_f64().max(1e-9),
        "links/s",
    );
    result.figure("all histories done after", with_history.as_secs_f64(), "s");
    result.figure(
        "movements per link",
        counts.movements as f64 / (creates.ok.max(1)) as f64,
        "",
    );

    result.check(creates.error_count() == 0, || {
        format!("link create errors: {}", creates.error_summary())
    });
    result.check(creates.ok > 0, || "no link was created".into());
    result.check(counts.intents("created") == 0, || {
        format!("{} first histories never ended", counts.intents("created"))
    });
    result.check(succeeded == creates.ok, || {
        format!(
            "{} links created but {succeeded} histories succeeded",
            creates.ok
        )
    });
    result.notes.push(
        "the worker runs in the same process: first histories compete with the creates for \
         the cores and the database"
            .into(),
    );
    if !args.smoke && matches!(target, Target::Sqlite) {
        let rate = creates.ok_per_second();
        let p99 = creates.quantile_ms(0.99);
        result.target(
            "link create throughput",
            ">= 500 links/s",
            format!("{rate:.0}/s (p99 {p99:.1} ms)"),
            rate >= 500.0,
        );
    }
    server.stop().await?;
    Ok(result)
}
