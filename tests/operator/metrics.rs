//! `GET /metrics` after a known sequence of operations: every value is the one that sequence
//! must give, read through a real Prometheus text parser; and no secret is in the scrape.

use reqwest::Method;
use serde_json::json;

use crate::common::receiver::Receiver;
use crate::common::*;
use crate::support::*;

const BANK: &str = "cl_banco_sandbox";

/// The sequence and its checks, run by each backend's test below.
async fn known_sequence(backend: Backend) {
    let Some(app) = operator_app(backend).await else {
        return;
    };
    // Two links: one plain, one whose bank asks for an SMS code at every login. Each has its
    // first history (a refresh that lists accounts with the creation's session, no login).
    let (_, plain) = app.create_link("41614850-3").await;
    let (_, with_mfa) = app.create_link_with_mfa("jonsnow+mfa_sms", "123456").await;
    let receiver = Receiver::start().await;
    let endpoint = endpoint(&app, &receiver.url, "link.credentials_changed").await;

    // A refresh that reaches the bank and succeeds, then one forced to fail (no bank call).
    let first = refresh(&app, json!({"link_token": plain})).await;
    let first = wait_final(&app, &plain, first["id"].as_str().unwrap()).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    let second = refresh(
        &app,
        json!({"link_token": plain, "result_status": "failed"}),
    )
    .await;
    let second = wait_final(&app, &plain, second["id"].as_str().unwrap()).await;
    assert_eq!(second["status"], "failed", "{second}");
    // A refresh that parks for the second factor, and stays parked.
    let parked = refresh(&app, json!({"link_token": with_mfa})).await;
    eventually("the refresh parks for its second factor", || async {
        let (_, scrape) = scrape(&app).await;
        value(&scrape, "refresco_refreshes_parked_for_mfa", &[]) == 1.0
    })
    .await;
    // One webhook delivered.
    trigger(&app, "link.credentials_changed").await;
    // The attempt is counted when it ends; its delivery is marked delivered just after.
    eventually("the attempt is counted and its delivery done", || async {
        let (_, scrape) = scrape(&app).await;
        value(
            &scrape,
            "refresco_webhook_attempts_total",
            &[("result", "delivered")],
        ) == 1.0
            && value(&scrape, "refresco_webhook_deliveries_pending", &[]) == 0.0
    })
    .await;
    assert_eq!(receiver.received().len(), 1);
    // A path no route matches.
    let response = app
        .request(Method::GET, "/v1/no_such_thing/abc", None, None)
        .await;
    assert_eq!(response.status(), 404);

    let (text, scrape) = scrape(&app).await;
    let v = |metric: &str, labels: &[(&str, &str)]| value(&scrape, metric, labels);

    // HTTP: by route template, never by raw path.
    assert!(
        declared(&text, "refresco_http_requests_total", "counter"),
        "{text}"
    );
    assert!(declared(
        &text,
        "refresco_http_request_duration_seconds",
        "histogram"
    ));
    let creates = [
        ("route", "/v1/refresh_intents"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(v("refresco_http_requests_total", &creates), 3.0);
    let polls = [
        ("route", "/v1/refresh_intents/:id"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert!(v("refresco_http_requests_total", &polls) >= 2.0, "{text}");
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(v("refresco_http_requests_total", &unmatched), 1.0);
    let durations = [("route", "/v1/refresh_intents"), ("method", "POST")];
    assert_eq!(v("refresco_http_request_duration_seconds", &durations), 3.0);
    for sample in &scrape.samples {
        if let Some(route) = sample.labels.get("route") {
            assert!(
                !route.contains("ri_") && !route.contains("link_"),
                "{route}"
            );
        }
    }
    // Every sample line was read: none was skipped as malformed.
    let sample_lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let read: usize = scrape
        .samples
        .iter()
        .map(|s| match &s.value {
            // `_sum` and `_count` are samples of their own.
            prometheus_parse::Value::Histogram(buckets) => buckets.len(),
            _ => 1,
        })
        .sum();
    assert_eq!(read, sample_lines, "{text}");

    // Refresh intents: created, and finished by status, institution and public_error.
    assert_eq!(
        v(
            "refresco_refresh_intents_created_total",
            &[("mode", "test")]
        ),
        3.0
    );
    let succeeded = [
        ("status", "succeeded"),
        ("institution", BANK),
        ("public_error", ""),
    ];
    assert_eq!(
        v("refresco_refresh_intents_finished_total", &succeeded),
        3.0,
        "the two first histories and the first refresh"
    );
    let failed = [
        ("status", "failed"),
        ("institution", BANK),
        ("public_error", "retryable_error"),
    ];
    assert_eq!(v("refresco_refresh_intents_finished_total", &failed), 1.0);
    let latency = [("institution", BANK), ("status", "succeeded")];
    assert_eq!(v("refresco_refresh_duration_seconds", &latency), 3.0);

    // Connector calls: two logins (one asked for the code), three lists of accounts (the first
    // refresh's and the two first histories'); the forced refresh called nothing.
    let logins = [
        ("institution", BANK),
        ("operation", "login"),
        ("result", "ok"),
    ];
    assert_eq!(v("refresco_connector_calls_total", &logins), 2.0);
    let lists = [
        ("institution", BANK),
        ("operation", "list_accounts"),
        ("result", "ok"),
    ];
    assert_eq!(v("refresco_connector_calls_total", &lists), 3.0);
    let timed = [("institution", BANK), ("operation", "login")];
    assert_eq!(v("refresco_connector_call_duration_seconds", &timed), 2.0);

    // The queue: one refresh parked for its code, nothing ready or running.
    assert!(declared(&text, "refresco_jobs", "gauge"));
    assert_eq!(
        v(
            "refresco_jobs",
            &[("state", "parked"), ("institution", BANK)]
        ),
        1.0
    );
    assert_eq!(
        v(
            "refresco_jobs",
            &[("state", "ready"), ("institution", BANK)]
        ),
        0.0
    );
    assert_eq!(
        v(
            "refresco_jobs",
            &[("state", "running"), ("institution", BANK)]
        ),
        0.0
    );
    assert_eq!(v("refresco_refreshes_parked_for_mfa", &[]), 1.0);
    assert_eq!(v("refresco_jobs_oldest_ready_age_seconds", &[]), 0.0);
    assert_eq!(v("refresco_jobs_expired_leases", &[]), 0.0);

    // Webhooks: one attempt delivered and timed, nothing disabled or pending.
    assert_eq!(
        v(
            "refresco_webhook_attempt_duration_seconds",
            &[("result", "delivered")]
        ),
        1.0
    );
    assert_eq!(
        v("refresco_webhook_attempts_total", &[("result", "retry")]),
        0.0
    );
    assert_eq!(v("refresco_webhook_endpoints_disabled", &[]), 0.0);
    assert_eq!(v("refresco_webhook_deliveries_pending", &[]), 0.0);

    // The database: the pools' connections, the waits for them, and SQLite's group commits.
    let pools: &[&str] = match backend {
        Backend::Postgres => &["shared"],
        _ => &["read", "write"],
    };
    for pool in pools {
        let idle = v(
            "refresco_db_pool_connections",
            &[("pool", pool), ("state", "idle")],
        );
        let in_use = v(
            "refresco_db_pool_connections",
            &[("pool", pool), ("state", "in_use")],
        );
        assert!(idle + in_use >= 1.0, "{pool}: {text}");
    }
    for pool in ["read", "write"] {
        assert!(
            v("refresco_db_pool_acquire_seconds", &[("pool", pool)]) >= 1.0,
            "{pool}: {text}"
        );
    }
    let grouped = v("refresco_group_commit_batch_size", &[]);
    match backend {
        Backend::Postgres => assert_eq!(grouped, 0.0),
        _ => assert!(grouped >= 3.0, "three creates at least: {text}"),
    }

    // No secret anywhere in the scrape.
    let widget_token = parked["widget_token"].as_str().unwrap_or("no widget token");
    for secret in [
        app.keys.secret_key.as_str(),
        app.keys.public_key.as_str(),
        plain.as_str(),
        with_mfa.as_str(),
        endpoint["secret"].as_str().unwrap(),
        widget_token,
        OPERATOR_TOKEN,
    ] {
        assert!(!text.contains(secret), "a secret in the scrape: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_known_sequence() {
    known_sequence(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_known_sequence() {
    known_sequence(Backend::Postgres).await;
}
