//! Helpers for the operator tests: a server with an operator token, scraping and parsing.

use prometheus_parse::{Scrape, Value as Sample};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

/// The operator token of [`operator_app`].
pub const OPERATOR_TOKEN: &str = "op-token-3c9a61f0b2d84e57";

/// A server with an operator token, quick polls and no cooldowns.
pub async fn operator_app(backend: Backend) -> Option<TestApp> {
    TestApp::start_with(backend, |c| {
        c.operator_token = Some(refresco::config::Secret::new(OPERATOR_TOKEN));
        c.worker_poll_ms = 20;
        c.webhook_retry_base_ms = 100;
        c.cooldown_only_last_secs = 0;
    })
    .await
}

/// `GET /metrics` with the operator token: the text, after checking the content type.
pub async fn scrape_text(app: &TestApp) -> String {
    let response = app
        .request(
            Method::GET,
            "/metrics",
            Some(&format!("Bearer {OPERATOR_TOKEN}")),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// A scrape parsed by `prometheus-parse`.
pub async fn scrape(app: &TestApp) -> (String, Scrape) {
    let text = scrape_text(app).await;
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

/// The value of the one sample of `metric` whose labels include `labels` (a counter or gauge),
/// or the count of a histogram's observations; 0 when there is none.
pub fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert!(
        matching.len() <= 1,
        "{metric} {labels:?} matches {matching:?}"
    );
    match matching.first().map(|s| &s.value) {
        None => 0.0,
        Some(Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v)) => *v,
        Some(Sample::Histogram(buckets)) => buckets
            .iter()
            .find(|b| b.less_than.is_infinite())
            .map_or(0.0, |b| b.count),
        Some(other) => panic!("{metric}: unexpected {other:?}"),
    }
}

/// Whether `metric` is declared with the type `kind` (a `# TYPE` line).
pub fn declared(text: &str, metric: &str, kind: &str) -> bool {
    text.lines().any(|l| l == format!("# TYPE {metric} {kind}"))
}

/// `POST /v1/refresh_intents` with `body`; the created intent.
pub async fn refresh(app: &TestApp, body: Value) -> Value {
    let response = app
        .request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(body),
        )
        .await;
    let (status, intent) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    intent
}

/// A webhook endpoint at `url` for one event type; its JSON (with its secret).
pub async fn endpoint(app: &TestApp, url: &str, event_type: &str) -> Value {
    let response = app
        .request(
            Method::POST,
            "/v1/webhook_endpoints",
            Some(&app.keys.secret_key),
            Some(json!({"url": url, "enabled_events": [event_type]})),
        )
        .await;
    let (status, body) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Polls `check` every 20 ms until it holds, failing after 30 s.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
