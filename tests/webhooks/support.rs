//! Helpers for the webhook tests.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::receiver::Receiver;
use crate::common::*;

/// A server tuned for quick retries (100 ms base delay, 20 ms polls).
pub async fn fast_app(backend: Backend, adjust: impl FnOnce(&mut refresco::Config)) -> TestApp {
    TestApp::start_with(backend, |c| {
        c.webhook_retry_base_ms = 100;
        c.worker_poll_ms = 20;
        c.cooldown_only_last_secs = 0;
        adjust(c);
    })
    .await
    .unwrap()
}

/// Creates an endpoint for `url`; returns (endpoint JSON, secret).
pub async fn endpoint(app: &TestApp, url: &str, events: Value) -> (Value, String) {
    let response = app
        .request(
            Method::POST,
            "/v1/webhook_endpoints",
            Some(&app.keys.secret_key),
            Some(json!({"url": url, "enabled_events": events, "description": "test receiver"})),
        )
        .await;
    let (status, body) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    (body, secret)
}

/// A receiver and an endpoint subscribed to every event.
pub async fn receiver_endpoint(app: &TestApp) -> (Receiver, String, String) {
    let receiver = Receiver::start().await;
    let (endpoint, secret) = endpoint(app, &receiver.url, json!(["*"])).await;
    (
        receiver,
        endpoint["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

/// The attempts of an endpoint, oldest first.
pub async fn attempts(app: &TestApp, endpoint_id: &str) -> Vec<Value> {
    let (status, list) = app
        .get(&format!(
            "/v1/webhook_endpoints/{endpoint_id}/attempts?per_page=300"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut list = list.as_array().unwrap().clone();
    list.reverse();
    list
}

/// Returns once the clock is in a later millisecond than when called. Times are kept to the
/// millisecond, and ids and claims order by them only that far: what is made before and after
/// this call is strictly ordered.
pub async fn next_millisecond() {
    let start = chrono::Utc::now().timestamp_millis();
    while chrono::Utc::now().timestamp_millis() <= start {
        tokio::task::yield_now().await;
    }
}

/// The attempts of an endpoint, oldest first, once there are at least `count`: a receiver
/// has a request before the server records how it went. Fails after 30 s.
pub async fn attempts_at_least(app: &TestApp, endpoint_id: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let log = attempts(app, endpoint_id).await;
        if log.len() >= count || std::time::Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Creates a Chilean sandbox link with `password` and runs one refresh to its end.
pub async fn refreshed_link(app: &TestApp, password: &str) -> (Value, String, Value) {
    let (link, token) = app.create_link_with_mfa(password, "123456").await;
    let (status, intent) = into_json(
        app.request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(json!({"link_token": token})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    let id = intent["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, got) = app
            .get(&format!("/v1/refresh_intents/{id}?link_token={token}"))
            .await;
        if got["status"] != "created" {
            return (link, token, got);
        }
        assert!(std::time::Instant::now() < deadline, "refresh never ended");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
