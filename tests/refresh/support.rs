//! Helpers shared by the refresh tests.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

/// Creates a link on `institution` with `password` (and an MFA code when the bank asks), and
/// waits for its first history.
pub async fn link(
    app: &TestApp,
    institution: &str,
    username: &str,
    password: &str,
) -> (Value, String) {
    let response = app
        .request(
            Method::POST,
            "/v1/links",
            Some(&app.keys.secret_key),
            Some(json!({
                "institution_id": institution, "username": username, "password": password,
                "mfa_code": "123456",
            })),
        )
        .await;
    let (status, body) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "link creation: {body}");
    let token = body["link_token"].as_str().unwrap().to_owned();
    app.first_history(&app.keys.secret_key, &token).await;
    (body, token)
}

/// A Chilean sandbox link for the first test user with `password`.
pub async fn cl_link(app: &TestApp, password: &str) -> (Value, String) {
    link(app, "cl_banco_sandbox", "41614850-3", password).await
}

/// `POST /v1/refresh_intents` with the body given.
pub async fn create(app: &TestApp, body: Value) -> (StatusCode, Value) {
    into_json(
        app.request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(body),
        )
        .await,
    )
    .await
}

/// Creates an only_last intent for `token`, asserting it was accepted.
pub async fn create_ok(app: &TestApp, token: &str) -> Value {
    let (status, body) = create(app, json!({"link_token": token})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "created");
    body
}

/// Polls the widget view until the bank's challenge is waiting for an answer.
pub async fn wait_challenge(app: &TestApp, widget_token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = app
            .request(
                Method::GET,
                &format!("/v1/widget/refresh_intents/{widget_token}"),
                Some(&app.keys.public_key),
                None,
            )
            .await;
        let (status, view) = into_json(response).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        if view["mfa_status"] == "awaiting_answer" {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "the challenge never came: {view}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every movement of every account of a link (all statuses).
pub async fn all_movements(app: &TestApp, token: &str) -> Vec<(String, Vec<Value>)> {
    let (_, accounts) = app.get(&format!("/v1/accounts?link_token={token}")).await;
    let mut out = Vec::new();
    for account in accounts.as_array().unwrap() {
        let id = account["id"].as_str().unwrap().to_owned();
        let mut movements = Vec::new();
        let mut page = 1;
        loop {
            let (_, list) = app.get(&format!(
                "/v1/accounts/{id}/movements?link_token={token}&confirmed_only=false&per_page=300&page={page}")).await;
            let list = list.as_array().unwrap().clone();
            if list.is_empty() {
                break;
            }
            movements.extend(list);
            page += 1;
        }
        out.push((id, movements));
    }
    out
}

/// Per-account results of an intent, straight from the store.
pub async fn results(
    app: &TestApp,
    intent_id: &str,
) -> Vec<(String, String, Option<String>, i64, i64, i64)> {
    let id = refresco::domain::RefreshIntentId::parse(intent_id).unwrap();
    app.state
        .store
        .account_results(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, s, e, n, m, r)| {
            (
                a.to_string(),
                s.as_str().to_owned(),
                e.map(|e| e.as_str().to_owned()),
                n,
                m,
                r,
            )
        })
        .collect()
}
