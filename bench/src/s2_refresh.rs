//! S2: refreshes end to end. Each of `connections` virtual clients creates a refresh intent on
//! a seeded link of the `+instant` sandbox bank (2 accounts × 25 movements, none stored yet, so
//! each refresh inserts 50 movements), then waits for the link-level webhook of that intent on
//! a local receiver; then the next. Throughput is refreshes completed per second; latency is
//! from sending the create to receiving the webhook.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::harness::{self, load_client, Target};
use super::load::closed_loop;
use super::receiver::Receiver;
use super::{BenchArgs, ScenarioResult};

/// Movements a refresh of a seeded `+instant` link inserts.
const NEW_MOVEMENTS: i64 = 50;

/// Runs S2.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<ScenarioResult> {
    let connections = args.pick(args.connections, 64, 4);
    let duration = args.duration_or(Duration::from_secs(20), Duration::from_secs(60));
    let limit = args.pick(args.refreshes, usize::MAX, 20);
    let links = args.pick(args.links, 30_000, 20).min(limit);
    let per_endpoint = args.per_endpoint.unwrap_or(64);
    let mut result = ScenarioResult::new("s2", "refreshes end to end", target.label());
    result.param("connections", connections);
    result.param("duration_s", duration.as_secs_f64());
    result.param("links_seeded", links);
    result.param("bank", "cl_banco_sandbox, jonsnow+instant");
    result.param("webhook_per_endpoint_concurrency", per_endpoint);

    let prepared = harness::prepare(target, args.work_dir.as_ref(), |c| {
        c.webhook_per_endpoint_concurrency = per_endpoint;
    })
    .await?;
    let store = prepared.state.store.clone();
    result.database = store.seeding().database_version().await?;
    result.param(
        "worker_concurrency",
        prepared.state.config.worker_concurrency,
    );
    let template = prepared.template_link("jonsnow+instant").await?;
    store.seeding().begin().await?;
    let tokens = Arc::new(
        prepared
            .seed_links(&template, "jonsnow+instant", links)
            .await?,
    );
    let history = args.history.unwrap_or(0);
    result.param("history_per_account", history);
    if history > 0 {
        // Dated a month back and older: outside an only_last refresh's 14 days, so every
        // refresh still inserts its 50 and removes nothing, but finds this history stored.
        let accounts = store
            .seeding()
            .accounts_of(&harness::link_ids(&tokens))
            .await?;
        let month_ago = chrono::Utc::now().date_naive() - chrono::Days::new(30);
        store
            .seeding()
            .movements(
                &accounts,
                history,
                refresco::domain::Timestamp::start_of(month_ago).millis(),
            )
            .await?;
    }
    store.seeding().finish().await?;
    let movements_before = store.seeding().counts().await?.movements;

    let server = prepared.serve();
    let client = load_client(connections)?;
    let receiver = Arc::new(Receiver::start().await?);
    let (_, secret) = server
        .create_endpoint(
            &client,
            &receiver.url,
            &[
                "link.refresh_intent.succeeded",
                "link.refresh_intent.failed",
                "link.refresh_intent.rejected",
            ],
        )
        .await?;
    receiver.set_secret(secret);

    let requests = server.create_requests(&client, tokens.clone());
    let started = refresco::domain::Timestamp::now().millis();
    let refreshes = {
        let (requests, receiver) = (requests.clone(), receiver.clone());
        let limit = u64::try_from(requests.links())?;
        closed_loop(connections, duration, Some(limit), move |i| {
            let request = requests.nth(i);
            let receiver = receiver.clone();
            async move { refresh(request, &receiver).await }
        })
        .await?
    };

    result.figure("refreshes completed", refreshes.ok as f64, "");
    result.figure(
        "refresh throughput",
        refreshes.ok_per_second(),
        "refreshes/s",
    );
    result.figure("create → webhook p50", refreshes.quantile_ms(0.5), "ms");
    result.figure("create → webhook p99", refreshes.quantile_ms(0.99), "ms");
    result.figure(
        "movements inserted per second",
        refreshes.ok_per_second() * NEW_MOVEMENTS as f64,
        "movements/s",
    );
    // Where the time goes, from the rows the refreshes left (means, not quantiles).
    let stages = store.seeding().refresh_stages(started).await?;
    for (name, mean) in [
        ("create → job started, mean", stages.create_to_start_ms),
        (
            "job started → bank answered, mean",
            stages.start_to_answer_ms,
        ),
        (
            "bank answered → webhook attempted, mean",
            stages.answer_to_attempt_ms,
        ),
    ] {
        result.check(mean.is_some_and(|ms| ms >= 0.0), || {
            format!("no duration for {name}: {mean:?}")
        });
        result.figure(name, mean.unwrap_or(f64::NAN), "ms");
    }
    result.figure("errors", refreshes.error_count() as f64, "");
    result.figure("webhooks received", receiver.received() as f64, "");

    result.check(refreshes.error_count() == 0, || {
        format!("refresh errors: {}", refreshes.error_summary())
    });
    result.check(refreshes.ok > 0, || "no refresh completed".into());
    let counts = store.seeding().counts().await?;
    result.check(counts.intents("created") == 0, || {
        format!("{} intents never ended", counts.intents("created"))
    });
    let inserted = counts.movements - movements_before;
    let expected = i64::try_from(refreshes.ok)? * NEW_MOVEMENTS;
    result.check(inserted == expected, || {
        format!("{inserted} movements inserted, expected {expected}")
    });
    result.check(receiver.bad_signatures() == 0, || {
        format!(
            "{} deliveries failed verification",
            receiver.bad_signatures()
        )
    });
    if !args.smoke {
        let rate = refreshes.ok_per_second();
        result.target(
            "refresh throughput",
            ">= 1000 refreshes/s",
            format!("{rate:.0}/s"),
            rate >= 1000.0,
        );
    }
    result.notes.push(
        "closed loop: each client waits for its webhook before the next create, so latency \
         includes queueing behind the other clients' refreshes (Little's law)"
            .into(),
    );
    server.stop().await?;
    Ok(result)
}

/// One refresh: create, then wait for its link-level webhook; checks it succeeded with every
/// movement new.
async fn refresh(request: reqwest::RequestBuilder, receiver: &Receiver) -> Result<(), String> {
    let response = request.send().await.map_err(|_| "transport".to_owned())?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.map_err(|_| "body".to_owned())?;
    if status != 201 {
        let code = body["error"]["code"].as_str().unwrap_or_default();
        return Err(format!("create {status} {code}"));
    }
    let id = body["id"].as_str().ok_or("create answer without id")?;
    let arrival = tokio::time::timeout(Duration::from_secs(120), receiver.wait_for(id))
        .await
        .map_err(|_| "no webhook within 120 s".to_owned())?
        .ok_or("receiver stopped")?;
    if arrival.status != "succeeded" {
        return Err(format!("refresh {}", arrival.status));
    }
    if arrival.new_movements != NEW_MOVEMENTS {
        return Err(format!("new_movements {}", arrival.new_movements));
    }
    Ok(())
}
