//! W3C trace context: a `traceparent` sent with `POST /v1/refresh_intents` reaches the
//! connector service's calls of that refresh (run by the worker, from the database) and the
//! webhook delivery of its event, as the same trace with new span ids; a request without one
//! starts none.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use refresco::config::{ConnectorConfig, Secret};
use refresco::connectors::protocol::server;
use refresco::connectors::{Registry, SandboxConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::receiver::Receiver;
use crate::common::*;
use crate::support::*;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// What the connector saw: each call's path and `traceparent`.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn note(State(seen): State<Seen>, request: Request, next: Next) -> Response {
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.lock()
        .unwrap()
        .push((request.uri().path().to_owned(), traceparent));
    next.run(request).await
}

/// The sandbox banks over the connector protocol, in this process, noting every call.
async fn connector(seen: Seen) -> ConnectorConfig {
    let token = "trace-test-connector-token";
    let router = server::router(
        Registry::sandbox(SandboxConfig::default()),
        Secret::new(token),
        50,
    )
    .layer(axum::middleware::from_fn_with_state(seen, note));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    ConnectorConfig {
        url,
        token: Some(Secret::new(token)),
        timeout: Some(Duration::from_secs(10)),
    }
}

fn is_child(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let fields: Vec<&str> = v.split('-').collect();
        fields.len() == 4
            && fields[0] == "00"
            && fields[1] == TRACE_ID
            && fields[2].len() == 16
            && fields[2] != "00f067aa0ba902b7"
            && fields[3] == "01"
    })
}

async fn a_refresh_carries_its_trace(backend: Backend) {
    let seen = Seen::default();
    let connector = connector(seen.clone()).await;
    let Some(app) = TestApp::start_with(backend, |c| {
        c.sandbox = false;
        c.connectors = vec![connector];
        c.worker_poll_ms = 20;
        c.cooldown_only_last_secs = 0;
    })
    .await
    else {
        return;
    };
    let (_, token) = app.create_link("41614850-3").await;
    // Subscribed after the link's first history ended: it receives the traced refresh first.
    let receiver = Receiver::start().await;
    endpoint(&app, &receiver.url, "link.refresh_intent.succeeded").await;
    let before = seen.lock().unwrap().len();

    let response = app
        .client
        .post(format!("{}/v1/refresh_intents", app.base))
        .header("Authorization", &app.keys.secret_key)
        .header("traceparent", TRACEPARENT)
        .json(&json!({"link_token": token}))
        .send()
        .await
        .unwrap();
    let (status, intent) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    let intent = wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
    assert_eq!(intent["status"], "succeeded", "{intent}");
    let received = receiver.wait_for(|r| !r.is_empty()).await;

    // Every call of the refresh, in the worker: the same trace, a span of its own.
    let calls: Vec<_> = seen.lock().unwrap()[before..].to_vec();
    for path in ["/login", "/accounts", "/movements"] {
        assert!(calls.iter().any(|(p, _)| p == path), "{path} in {calls:?}");
    }
    for (path, traceparent) in &calls {
        assert!(is_child(traceparent.as_deref()), "{path}: {traceparent:?}");
    }
    let delivered = received[0]
        .headers
        .get("traceparent")
        .map(|v| v.to_str().unwrap());
    assert!(is_child(delivered), "the webhook: {delivered:?}");

    // Without a traceparent, no trace is started.
    let before = seen.lock().unwrap().len();
    let intent = refresh(&app, json!({"link_token": token})).await;
    wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
    let received = receiver.wait_for(|r| r.len() >= 2).await;
    let calls: Vec<_> = seen.lock().unwrap()[before..].to_vec();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|(_, t)| t.is_none()), "{calls:?}");
    assert!(received[1].headers.get("traceparent").is_none());

    // A malformed one is ignored, and the request is served.
    let response = app
        .client
        .get(format!("{}/v1/links", app.base))
        .header("Authorization", &app.keys.secret_key)
        .header("traceparent", "00-not-a-trace-context")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_refresh_carries_its_trace() {
    a_refresh_carries_its_trace(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_refresh_carries_its_trace() {
    a_refresh_carries_its_trace(Backend::Postgres).await;
}
