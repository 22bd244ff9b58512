//! What the politeness tests share.

use std::time::{Duration, Instant};

use refresco::domain::Timestamp;
use refresco::engine::scheduler::Scheduler;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;

/// The link's refresh intents, newest first.
pub async fn intents(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, list) = app
        .get(&format!(
            "/v1/refresh_intents?link_token={token}&per_page=300"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().clone()
}

/// Polls `check` every 20 ms until it gives a value, failing after 60 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A scheduler of the app's own engine (the app's background scheduler is left idle by a long
/// interval, so the test decides when a round runs and what time it is).
pub fn scheduler(app: &TestApp) -> Scheduler {
    Scheduler::new(app.state.engine.clone())
}

/// The time `hours` from now.
pub fn hours_ahead(hours: i64) -> Timestamp {
    Timestamp::now().plus_millis(hours * 3_600_000)
}

/// A fresh app on `backend` whose background scheduler stays idle during a test (one-hour
/// interval, so the first due time is half an hour away at least), after `adjust`.
pub async fn app_with(
    backend: crate::common::Backend,
    adjust: impl FnOnce(&mut refresco::Config),
) -> TestApp {
    TestApp::start_with(backend, |c| {
        c.refresh_interval_ms = 3_600_000;
        c.worker_poll_ms = 20;
        adjust(c);
    })
    .await
    .expect("app")
}

/// Another engine (API, worker and scheduler) over `app`'s database and master key, as a
/// second process would run, after `prepare` (which registers banks in its registry) and
/// before it starts. It stops when the returned guard is dropped.
pub async fn engine_beside(
    app: &TestApp,
    prepare: impl FnOnce(&refresco::App),
) -> tokio_util::sync::DropGuard {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let engine = refresco::build(app.config.clone(), listener).await.unwrap();
    prepare(&engine);
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(engine.run(shutdown.clone()));
    shutdown.drop_guard()
}
