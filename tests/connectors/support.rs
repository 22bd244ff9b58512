//! Helpers for the connector tests: an app whose only banks are one connector's, and requests
//! that fail the test on any 5xx answer but the one the API documents for a bank that cannot
//! check a second factor.

use std::time::{Duration, Instant};

use refresco::config::ConnectorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

/// An app on `backend` with the built-in banks off and `connector` as its only connector, no
/// cooldown between refreshes, and quick polls.
pub async fn app_with(backend: Backend, connector: ConnectorConfig) -> Option<TestApp> {
    TestApp::start_with(backend, |c| {
        c.sandbox = false;
        c.connectors = vec![connector];
        c.cooldown_only_last_secs = 0;
        c.worker_poll_ms = 20;
    })
    .await
}

/// A request with the default secret key (or `key`); its answer must not be a 5xx.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let key = key.unwrap_or(&app.keys.secret_key);
    let (status, body) = into_json(app.request(method.clone(), path, Some(key), body).await).await;
    assert!(
        !status.is_server_error(),
        "{method} {path} answered {status}: {body}"
    );
    (status, body)
}

/// GET with the default secret key, answered 200.
pub async fn get_ok(app: &TestApp, path: &str) -> Value {
    let (status, body) = call(app, Method::GET, path, None, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// A Chilean sandbox link of the first test user with `password` (the SMS code given, for the
/// scenarios that ask for one at login), once its first history ended; returns the link and
/// its token.
pub async fn cl_link(app: &TestApp, password: &str) -> (Value, String) {
    let body = json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3",
        "password": password, "mfa_code": "123456"});
    let (status, link) = call(app, Method::POST, "/v1/links", None, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "link creation: {link}");
    let token = link["link_token"].as_str().unwrap().to_owned();
    app.first_history(&app.keys.secret_key, &token).await;
    (link, token)
}

/// Creates a refresh intent of the link `token`; returns it.
pub async fn refresh(app: &TestApp, token: &str) -> Value {
    let body = json!({"link_token": token});
    let (status, intent) = call(app, Method::POST, "/v1/refresh_intents", None, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    intent
}

/// Refreshes the link `token` and waits for the end; returns the ended intent.
pub async fn refresh_to_end(app: &TestApp, token: &str) -> Value {
    let intent = refresh(app, token).await;
    wait_final(app, token, intent["id"].as_str().unwrap()).await
}

/// Asserts the intent failed with `retryable_error`.
pub fn assert_retryable(intent: &Value, what: &str) {
    assert_failed(intent, "retryable_error", what);
}

/// Asserts the intent failed with `public_error`.
pub fn assert_failed(intent: &Value, public_error: &str, what: &str) {
    assert_eq!(
        (intent["status"].as_str(), intent["public_error"].as_str()),
        (Some("failed"), Some(public_error)),
        "{what}: {intent}"
    );
}

/// Every stored movement of each account of the link `token`, without its id, sorted: two
/// links of the same holder that saw the same answers from the bank hold equal lists.
pub async fn movements(app: &TestApp, token: &str) -> Vec<Vec<String>> {
    let accounts = get_ok(app, &format!("/v1/accounts?link_token={token}")).await;
    let mut out = Vec::new();
    for account in accounts.as_array().unwrap() {
        let id = account["id"].as_str().unwrap();
        let mut list = Vec::new();
        for page in 1.. {
            let path = format!(
                "/v1/accounts/{id}/movements?link_token={token}\
                &confirmed_only=false&per_page=300&page={page}"
            );
            let items = get_ok(app, &path).await;
            let items = items.as_array().unwrap();
            if items.is_empty() {
                break;
            }
            list.extend(items.iter().map(|m| {
                let mut m = m.clone();
                m.as_object_mut().unwrap().remove("id");
                m.to_string()
            }));
        }
        list.sort();
        out.push(list);
    }
    out
}

/// Polls the widget view of a refresh until its challenge waits for an answer.
pub async fn wait_challenge(app: &TestApp, widget_token: &str) {
    let path = format!("/v1/widget/refresh_intents/{widget_token}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, view) = call(app, Method::GET, &path, Some(&app.keys.public_key), None).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        if view["mfa_status"] == "awaiting_answer" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the challenge never came: {view}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `POST /v1/refresh_intents/{id}/mfa` with `code`; the raw answer (a 503 is allowed: the
/// documented `unavailable_institution` when the bank could not check the code).
pub async fn answer_mfa(app: &TestApp, token: &str, id: &str, code: &str) -> (StatusCode, Value) {
    let path = format!("/v1/refresh_intents/{id}/mfa?link_token={token}");
    let response = app
        .request(
            Method::POST,
            &path,
            Some(&app.keys.secret_key),
            Some(json!({"code": code})),
        )
        .await;
    let (status, body) = into_json(response).await;
    if status.is_server_error() {
        assert_error(status, &body, 503, "unavailable_institution");
    }
    (status, body)
}
