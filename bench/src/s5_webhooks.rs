//! S5: draining a webhook backlog. `events` events, each with a pending delivery to one
//! endpoint (a local receiver that verifies every signature), are seeded before the server
//! starts; the dispatcher then claims, signs, POSTs and records each (one attempt row per
//! delivery). Throughput is deliveries recorded per second, from the server's start to the last
//! delivery recorded.

use std::time::{Duration, Instant};

use super::harness::{self, Target};
use super::machine::CpuWindow;
use super::receiver::Receiver;
use super::{BenchArgs, ScenarioResult};
use refresco::domain::{EnabledEvents, LinkId, Mode, WebhookEndpointId};
use refresco::store::NewEndpoint;
use refresco::webhooks::signing;

/// Runs S5.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<ScenarioResult> {
    let events = args.pick(args.events, 100_000, 500);
    let per_endpoint = args.per_endpoint.unwrap_or(64);
    let mut result = ScenarioResult::new("s5", "webhook backlog", target.label());
    result.param("events", events);
    result.param("webhook_per_endpoint_concurrency", per_endpoint);

    let prepared = harness::prepare(target, args.work_dir.as_ref(), |c| {
        c.webhook_per_endpoint_concurrency = per_endpoint;
    })
    .await?;
    let store = prepared.state.store.clone();
    result.database = store.seeding().database_version().await?;
    result.param(
        "webhook_concurrency",
        prepared.state.config.webhook_concurrency,
    );
    let receiver = Receiver::start().await?;
    let secret = signing::new_secret();
    receiver.set_secret(secret.clone());
    let endpoint_id = WebhookEndpointId::generate();
    let organization_id = prepared.organization_id();
    store
        .create_endpoint(&NewEndpoint {
            sealed_secret: prepared
                .state
                .keys
                .seal(endpoint_id.as_str(), secret.as_bytes()),
            id: endpoint_id.clone(),
            organization_id: organization_id.clone(),
            mode: Mode::Test,
            url: receiver.url.clone(),
            description: Some("refresco-bench s5".into()),
            enabled_events: EnabledEvents::All,
        })
        .await?;
    let seeding = Instant::now();
    store.seeding().begin().await?;
    store
        .seeding()
        .events(&organization_id, &endpoint_id, &LinkId::generate(), events)
        .await?;
    store.seeding().finish().await?;
    result.figure(
        "seed events and deliveries",
        seeding.elapsed().as_secs_f64(),
        "s",
    );

    let cpu = CpuWindow::start();
    let started = Instant::now();
    let server = prepared.serve();
    let poll = Duration::from_millis(if args.smoke { 20 } else { 100 });
    let deadline = started + Duration::from_secs(600 + events / 100);
    // Wait on the receiver's counter first: counting pending deliveries reads the table
    // (nothing indexes `state` alone), which would take a share of the cores being measured.
    while receiver.received() < events && Instant::now() < deadline {
        tokio::time::sleep(poll).await;
    }
    // Then until the last attempts are recorded.
    let mut pending = store.pending_deliveries().await?;
    while pending > 0 && Instant::now() < deadline {
        tokio::time::sleep(poll).await;
        pending = store.pending_deliveries().await?;
    }
    let elapsed = started.elapsed();
    let (_, cpu_percent, _) = cpu.stop();
    let counts = store.seeding().counts().await?;
    let delivered = counts.deliveries("delivered");

    result.figure(
        "delivery throughput",
        delivered as f64 / elapsed.as_secs_f64().max(1e-9),
        "deliveries/s",
    );
    result.figure("backlog drained in", elapsed.as_secs_f64(), "s");
    result.figure("deliveries recorded delivered", delivered as f64, "");
    result.figure("attempts recorded", counts.attempts as f64, "");
    result.figure("received by the receiver", receiver.received() as f64, "");
    result.figure("duplicate deliveries", receiver.duplicates() as f64, "");
    result.figure("CPU while draining", cpu_percent, "% of a core");

    let expected = i64::try_from(events)?;
    result.check(pending == 0, || {
        format!("{pending} deliveries still pending")
    });
    result.check(delivered == expected, || {
        format!(
            "{delivered} of {expected} deliveries delivered ({:?})",
            counts.deliveries_by_state
        )
    });
    result.check(counts.attempts >= expected, || {
        format!(
            "{} attempts recorded for {expected} deliveries",
            counts.attempts
        )
    });
    result.check(receiver.received() >= events, || {
        format!("the receiver got {} of {events}", receiver.received())
    });
    result.check(receiver.bad_signatures() == 0, || {
        format!(
            "{} deliveries failed verification",
            receiver.bad_signatures()
        )
    });
    if !args.smoke {
        let rate = delivered as f64 / elapsed.as_secs_f64().max(1e-9);
        result.target(
            "delivery throughput",
            ">= 5000 deliveries/s",
            format!("{rate:.0}/s"),
            rate >= 5000.0,
        );
    }
    result
        .notes
        .push("the receiver runs in this process and verifies every Fintoc-Signature".into());
    server.stop().await?;
    Ok(result)
}
