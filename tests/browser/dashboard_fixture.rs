//! The server `dashboard.test.mjs` drives: an operator token, a test-mode link refreshed once
//! with its events delivered to a receiver, and a live-mode link of another organization (so
//! both modes show).

use refresco::config::Secret;
use refresco::domain::Mode;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

use crate::common::database::database_url;
use crate::common::receiver::Receiver;
use crate::common::*;

/// The operator token of the dashboard's server.
pub const OPERATOR_TOKEN: &str = "browser-operator-token-5f1c2a";

/// The server, its receiver (kept alive while the tests run), and the test link's holder id.
pub async fn server(backend: Backend) -> (TestApp, Receiver, String) {
    let app = TestApp::start_with(backend, |c| {
        c.operator_token = Some(Secret::new(OPERATOR_TOKEN));
        c.worker_poll_ms = 20;
        c.cooldown_only_last_secs = 0;
    })
    .await
    .expect("dashboard server");
    let receiver = Receiver::start().await;
    let response = app
        .request(
            Method::POST,
            "/v1/webhook_endpoints",
            Some(&app.keys.secret_key),
            Some(json!({"url": receiver.url, "enabled_events": ["link.refresh_intent.succeeded"]})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (link, token) = app.create_link("41614850-3").await;
    let response = app
        .request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(json!({"link_token": token})),
        )
        .await;
    let (status, intent) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
    receiver.wait_for(|r| !r.is_empty()).await;
    // The API makes live links only through the widget: a test link of another organization,
    // moved to live mode in the database, stands for one.
    let other = app.key_pair("globex", Mode::Test).await;
    let (live, _) = app
        .create_link_with(
            &other.secret_key,
            "cl_banco_sandbox",
            "40427672-7",
            "jonsnow",
        )
        .await;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&database_url(&app))
        .await
        .unwrap();
    sqlx::query("UPDATE links SET mode = 'live' WHERE id = $1")
        .bind(live["id"].as_str().unwrap())
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let holder = link["holder_id"].as_str().unwrap().to_owned();
    (app, receiver, holder)
}
