//! `refresco_db_pool_acquire_seconds` counts every wait for a connection, by pool: a request
//! that only reads adds to `read` and leaves `write` alone; one that writes adds to `write`.
//! The server runs the API alone (no worker, scheduler or dispatcher polls the database), so
//! between two scrapes only the requests made in between took connections.

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

const METRIC: &str = "refresco_db_pool_acquire_seconds";

/// The two pools' acquire counts in a scrape: (read, write).
async fn acquires(app: &TestApp) -> (f64, f64) {
    let (_, scrape) = scrape(app).await;
    (
        value(&scrape, METRIC, &[("pool", "read")]),
        value(&scrape, METRIC, &[("pool", "write")]),
    )
}

async fn every_acquire_is_measured_by_pool(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |c| {
        c.operator_token = Some(refresco::config::Secret::new(OPERATOR_TOKEN));
        c.role = refresco::config::Role::Api;
    })
    .await
    else {
        return;
    };
    let (_, token) = app.create_link("41614850-3").await;

    // A scrape reads the queue's state: its own reads are in the next one's count.
    let (read_before, write_before) = acquires(&app).await;
    let (read_idle, write_idle) = acquires(&app).await;
    assert!(read_idle > read_before, "a scrape reads: {read_idle}");
    assert_eq!(
        write_idle, write_before,
        "nothing writes between two scrapes"
    );

    // Reads only.
    let (status, _) = app.get("/v1/links").await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get(&format!("/v1/refresh_intents?link_token={token}"))
        .await;
    assert_eq!(status, 200);
    let (read_after_reads, write_after_reads) = acquires(&app).await;
    assert!(
        read_after_reads >= read_idle + 2.0 + (read_idle - read_before),
        "two reads and a scrape: {read_idle} then {read_after_reads}"
    );
    assert_eq!(
        write_after_reads, write_idle,
        "reads took no write connection"
    );

    // A write: the intent, its job and its idempotency record in one transaction.
    let response = app
        .request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(json!({"link_token": token})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let (_, write_after_write) = acquires(&app).await;
    assert!(
        write_after_write > write_after_reads,
        "a create took a write connection: {write_after_reads} then {write_after_write}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_acquire_is_measured_by_pool() {
    every_acquire_is_measured_by_pool(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_acquire_is_measured_by_pool() {
    every_acquire_is_measured_by_pool(Backend::Postgres).await;
}
