//! S1: `POST /v1/refresh_intents` throughput and latency, beside the `GET /healthz` ceiling of
//! the same server and client measured in the same run: first without an `Idempotency-Key`,
//! then with a random one on every request, as the official clients send it.
//!
//! The server runs with `role = api` (no worker), so the figure is the cost of creating an
//! intent (authenticate, resolve the link token, check the rules, commit intent and job), not of
//! refreshing. A link takes one intent at a time (`refresh_intent_in_progress`), so each request
//! uses the next seeded link; the report says how many were used. Each phase has half of the
//! links.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::harness::{self, load_client, Target};
use super::load::{closed_loop, expect_status};
use super::{BenchArgs, ScenarioResult};
use refresco::config::Role;

/// Runs S1.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<ScenarioResult> {
    let connections = args.pick(args.connections, 64, 16);
    let duration = args.duration_or(Duration::from_secs(20), Duration::from_secs(1));
    let links = args.pick(args.links, 100_000, 200);
    let mut result = ScenarioResult::new("s1", "create refresh intents", target.label());
    result.param("connections", connections);
    result.param("duration_s", duration.as_secs_f64());
    result.param("links_seeded", links);
    result.param("role", "api (no worker)");

    let prepared = harness::prepare(target, args.work_dir.as_ref(), |c| c.role = Role::Api).await?;
    let store = prepared.state.store.clone();
    result.database = store.seeding().database_version().await?;
    let template = prepared.template_link("jonsnow").await?;
    let seeding = Instant::now();
    store.seeding().begin().await?;
    let tokens = prepared.seed_links(&template, "jonsnow", links).await?;
    store.seeding().finish().await?;
    result.figure(
        "seed links (2 accounts each)",
        seeding.elapsed().as_secs_f64(),
        "s",
    );

    let database_url = prepared
        .state
        .config
        .database_url
        .as_ref()
        .map(|url| url.expose().to_owned());
    let server = prepared.serve();
    let client = load_client(connections)?;

    // The ceiling: the cheapest route of the same server through the same client.
    let health_url = format!("{}/healthz", server.base);
    let health = {
        let client = client.clone();
        closed_loop(connections, duration, None, move |_| {
            let request = client.get(&health_url);
            async move { expect_status(request, 200).await }
        })
        .await?
    };

    let keyed_tokens = tokens[tokens.len() / 2..].to_vec();
    let unkeyed_tokens = tokens[..tokens.len() / 2].to_vec();
    let phase = |requests: super::harness::CreateRequests| async move {
        let limit = u64::try_from(requests.links())?;
        closed_loop(connections, duration, Some(limit), move |i| {
            let request = requests.nth(i);
            async move { expect_status(request, 201).await }
        })
        .await
    };
    let creates = phase(server.create_requests(&client, Arc::new(unkeyed_tokens))).await?;
    let keyed = phase(
        server
            .create_requests(&client, Arc::new(keyed_tokens))
            .with_idempotency_keys(),
    )
    .await?;

    // PostgreSQL's own ceiling, after the creates (its rows copy one of theirs).
    let ceiling = match &database_url {
        Some(url) => Some(super::pg_ceiling::measure(url, connections, duration).await?),
        None => None,
    };
    result.figure(
        "healthz throughput (ceiling)",
        health.ok_per_second(),
        "req/s",
    );
    result.figure("healthz p50", health.quantile_ms(0.5), "ms");
    result.figure("healthz p99", health.quantile_ms(0.99), "ms");
    result.figure("create throughput", creates.ok_per_second(), "req/s");
    result.figure("create p50", creates.quantile_ms(0.5), "ms");
    result.figure("create p99", creates.quantile_ms(0.99), "ms");
    result.figure("create p99.9", creates.quantile_ms(0.999), "ms");
    result.figure("create errors", creates.error_count() as f64, "");
    let ratio = creates.ok_per_second() / health.ok_per_second().max(1e-9);
    result.figure("create / healthz", 100.0 * ratio, "%");
    result.figure("keyed create throughput", keyed.ok_per_second(), "req/s");
    result.figure("keyed create p50", keyed.quantile_ms(0.5), "ms");
    result.figure("keyed create p99", keyed.quantile_ms(0.99), "ms");
    result.figure("keyed create p99.9", keyed.quantile_ms(0.999), "ms");
    result.figure("keyed create errors", keyed.error_count() as f64, "");
    let keyed_ratio = keyed.ok_per_second() / creates.ok_per_second().max(1e-9);
    result.figure("keyed / unkeyed", 100.0 * keyed_ratio, "%");
    if let Some(ceiling) = &ceiling {
        result.figure(
            "postgres insert ceiling",
            ceiling.ok_per_second(),
            "inserts/s",
        );
        result.figure("postgres insert p99", ceiling.quantile_ms(0.99), "ms");
        let of_ceiling = creates.ok_per_second() / ceiling.ok_per_second().max(1e-9);
        result.figure("create / postgres ceiling", 100.0 * of_ceiling, "%");
        result.check(ceiling.error_count() == 0, || {
            format!("ceiling insert errors: {}", ceiling.error_summary())
        });
    }
    result.figure(
        "links used",
        (creates.operations + keyed.operations) as f64,
        "",
    );

    result.check(health.error_count() == 0, || {
        format!("healthz errors: {}", health.error_summary())
    });
    result.check(creates.error_count() == 0, || {
        format!("create errors: {}", creates.error_summary())
    });
    result.check(keyed.error_count() == 0, || {
        format!("keyed create errors: {}", keyed.error_summary())
    });
    result.check(creates.ok > 0 && keyed.ok > 0, || {
        "no intent was created".into()
    });
    // Every 201 was committed before it was sent: the intents are all there, and every keyed
    // one's answer with its key.
    let counts = store.seeding().counts().await?;
    let stored = u64::try_from(counts.intents("created")).unwrap_or(0);
    result.check(stored == creates.ok + keyed.ok, || {
        format!(
            "{} intents answered 201 but {stored} stored",
            creates.ok + keyed.ok
        )
    });
    let answers = u64::try_from(counts.idempotent_answers).unwrap_or(0);
    result.check(answers == keyed.ok, || {
        format!(
            "{} keyed creates answered but {answers} keys stored",
            keyed.ok
        )
    });
    if creates.operations >= u64::try_from(links / 2)?
        || keyed.operations >= u64::try_from(links - links / 2)?
    {
        result
            .notes
            .push("every seeded link was used before the time was up: raise --links".into());
    }
    result.notes.push(
        "client, server and database share this machine's cores; compare the ratio, not the \
         absolute figures"
            .into(),
    );
    if !args.smoke {
        let p99 = creates.quantile_ms(0.99);
        result.target(
            "create throughput",
            ">= 20% of healthz",
            format!("{:.1}%", 100.0 * ratio),
            ratio >= 0.20,
        );
        result.target(
            "create p99",
            "<= 25 ms",
            format!("{p99:.2} ms"),
            p99 <= 25.0,
        );
        if let Some(ceiling) = &ceiling {
            let of_ceiling = creates.ok_per_second() / ceiling.ok_per_second().max(1e-9);
            result.target(
                "create throughput on postgres",
                ">= 50% of its insert ceiling",
                format!("{:.1}%", 100.0 * of_ceiling),
                of_ceiling >= 0.5,
            );
        }
        let keyed_p99 = keyed.quantile_ms(0.99);
        result.target(
            "keyed create throughput",
            ">= 80% of unkeyed",
            format!("{:.1}%", 100.0 * keyed_ratio),
            keyed_ratio >= 0.80,
        );
        result.target(
            "keyed create p99",
            "<= 25 ms",
            format!("{keyed_p99:.2} ms"),
            keyed_p99 <= 25.0,
        );
    }
    server.stop().await?;
    Ok(result)
}
