//! Helpers shared by the widget API tests.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

/// `POST /v1/link_intents` with `key` and `body`.
pub async fn create_intent_with(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    into_json(
        app.request(Method::POST, "/v1/link_intents", Some(key), Some(body))
            .await,
    )
    .await
}

/// Creates a movements link intent for `country`, asserting it was accepted.
pub async fn create_intent(app: &TestApp, country: &str) -> Value {
    let body = json!({"product": "movements", "country": country, "holder_type": "individual"});
    let (status, intent) = create_intent_with(app, &app.keys.secret_key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    intent
}

/// The widget token of a created intent.
pub fn widget_token(intent: &Value) -> String {
    intent["widget_token"]
        .as_str()
        .expect("widget_token")
        .to_owned()
}

/// A widget request with `key` (a public key, unless a test says otherwise).
pub async fn widget(
    app: &TestApp,
    method: Method,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    into_json(
        app.request(
            method,
            &format!("/v1/widget/link_intents/{path}"),
            Some(key),
            body,
        )
        .await,
    )
    .await
}

/// The widget's credentials step with the default public key.
pub async fn log_in(
    app: &TestApp,
    token: &str,
    institution: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let body = json!({"institution_id": institution, "username": username, "password": password});
    widget(
        app,
        Method::POST,
        &app.keys.public_key,
        &format!("{token}/credentials"),
        Some(body),
    )
    .await
}

/// The widget's second-factor step with the default public key.
pub async fn answer(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    widget(
        app,
        Method::POST,
        &app.keys.public_key,
        &format!("{token}/mfa"),
        Some(body),
    )
    .await
}

/// `GET /v1/links/exchange` with `key`.
pub async fn exchange_with(app: &TestApp, key: &str, token: &str) -> (StatusCode, Value) {
    into_json(
        app.request(
            Method::GET,
            &format!("/v1/links/exchange?exchange_token={token}"),
            Some(key),
            None,
        )
        .await,
    )
    .await
}

/// Polls `GET /v1/link_intents/{id}` until `done` holds, failing after 30 s.
pub async fn wait_intent(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, intent) = app.get(&format!("/v1/link_intents/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{intent}");
        if done(&intent) {
            return intent;
        }
        assert!(Instant::now() < deadline, "never reached: {intent}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connected Chilean link through the widget: returns the widget's success answer and the
/// intent as created.
pub async fn connect_cl(app: &TestApp) -> (Value, Value) {
    let intent = create_intent(app, "cl").await;
    let token = widget_token(&intent);
    let (status, done) = log_in(app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow").await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "succeeded", "{done}");
    (done, intent)
}
