//! MFA: by the widget endpoint and by the API; wrong then right; attempt limit; expiry.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

async fn widget_answer(
    app: &TestApp,
    key: &str,
    widget_token: &str,
    body: Value,
) -> (StatusCode, Value) {
    into_json(
        app.request(
            Method::POST,
            &format!("/v1/widget/refresh_intents/{widget_token}/mfa"),
            Some(key),
            Some(body),
        )
        .await,
    )
    .await
}

async fn api_answer(app: &TestApp, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    into_json(
        app.request(
            Method::POST,
            &format!("/v1/refresh_intents/{id}/mfa?link_token={token}"),
            Some(&app.keys.secret_key),
            Some(body),
        )
        .await,
    )
    .await
}

/// Creates an MFA link and intent; returns (link token, intent id, widget token).
async fn parked(app: &TestApp, password: &str) -> (String, String, String) {
    let (_, token) = cl_link(app, password).await;
    let intent = create_ok(app, &token).await;
    let widget = intent["requires_mfa"]["widget_token"]
        .as_str()
        .expect("requires_mfa")
        .to_owned();
    assert!(intent["mfa_expires_at"].is_null() || intent["mfa_expires_at"].is_string());
    (token, intent["id"].as_str().unwrap().to_owned(), widget)
}

both_backends_and_connector! {
    async fn a_forced_result_never_asks_for_a_second_factor(app: TestApp) {
        let (_, token) = cl_link(&app, "jonsnow+mfa_sms").await;
        let (status, intent) = create(&app, json!({"link_token": token, "result_status": "failed"})).await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        assert!(intent["requires_mfa"].is_null(), "{intent}");
        assert!(intent["mfa_method"].is_null(), "{intent}");
        let done = wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed", "{done}");
        // Without a forced result the same link's bank asks for one.
        let (status, intent) = create(&app, json!({"link_token": token})).await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        assert_eq!(intent["mfa_method"], "sms", "{intent}");
        assert!(intent["requires_mfa"]["widget_token"].is_string(), "{intent}");
    }

    async fn sms_by_api_wrong_code_then_right_code(app: TestApp) {
        let (token, id, widget) = parked(&app, "jonsnow+mfa_sms").await;
        let view = wait_challenge(&app, &widget).await;
        assert_eq!(view["mfa_method"], "sms");
        assert_eq!(view["mfa_attempts_left"], 3);
        let (_, pending) = app.get(&format!("/v1/refresh_intents/{id}?link_token={token}")).await;
        assert_eq!(pending["status"], "created");
        assert_eq!(pending["requires_mfa"]["widget_token"], widget.as_str(), "GET shows the token while pending");
        assert!(pending["mfa_expires_at"].is_string());

        let (status, body) = api_answer(&app, &token, &id, json!({"code": "000000"})).await;
        assert_error(status, &body, 400, "invalid_mfa_code");
        assert_eq!(body["error"]["attempts_left"], 2);
        let (status, body) = api_answer(&app, &token, &id, json!({"code": "123456"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let done = wait_final(&app, &token, &id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert!(done["requires_mfa"].is_null());
        // The token is single-use: the challenge is over.
        let (status, body) = widget_answer(&app, &app.keys.public_key, &widget, json!({"code": "123456"})).await;
        assert_error(status, &body, 422, "refresh_intent_finished");
    }

    async fn device_and_app_by_widget(app: TestApp) {
        let (token, id, widget) = parked(&app, "jonsnow+mfa_device").await;
        assert_eq!(wait_challenge(&app, &widget).await["mfa_method"], "device");
        let (status, view) = widget_answer(&app, &app.keys.public_key, &widget, json!({"code": "123456"})).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["mfa_status"], "answered");
        assert_eq!(wait_final(&app, &token, &id).await["status"], "succeeded");

        let (token, id, widget) = parked(&app, "jonsnow+mfa_app").await;
        assert_eq!(wait_challenge(&app, &widget).await["mfa_method"], "app");
        let (status, body) = widget_answer(&app, &app.keys.public_key, &widget, json!({"approved": false})).await;
        assert_error(status, &body, 400, "missing_parameter");
        let (status, _) = widget_answer(&app, &app.keys.public_key, &widget, json!({"approved": true})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(wait_final(&app, &token, &id).await["status"], "succeeded");
    }

    async fn attempt_limit_ends_the_refresh(app: TestApp) {
        let (token, id, widget) = parked(&app, "jonsnow+mfa_sms").await;
        wait_challenge(&app, &widget).await;
        for left in [2, 1, 0] {
            let (status, body) = widget_answer(&app, &app.keys.public_key, &widget, json!({"code": "999999"})).await;
            assert_error(status, &body, 400, "invalid_mfa_code");
            assert_eq!(body["error"]["attempts_left"], left);
        }
        // Even the right code is refused now.
        let (status, body) = widget_answer(&app, &app.keys.public_key, &widget, json!({"code": "123456"})).await;
        assert!(status.is_client_error(), "{body}");
        let done = wait_final(&app, &token, &id).await;
        assert_eq!(done["status"], "failed");
        assert_eq!(done["public_error"], "retryable_error");
        assert_eq!(done["failure_reason"], "mfa_attempts_exceeded");
    }

    async fn unanswered_challenge_expires(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.mfa_timeout_secs = 1).await.unwrap();
        let (token, id, widget) = parked(&app, "jonsnow+mfa_sms").await;
        wait_challenge(&app, &widget).await;
        let done = wait_final(&app, &token, &id).await;
        assert_eq!(done["status"], "failed");
        assert_eq!(done["public_error"], "retryable_error");
        assert_eq!(done["failure_reason"], "mfa_expired");
        let (status, body) = widget_answer(&app, &app.keys.public_key, &widget, json!({"code": "123456"})).await;
        assert_error(status, &body, 422, "refresh_intent_finished");
    }

    async fn wrong_keys_and_tokens_are_refused(app: TestApp) {
        let (token, id, widget) = parked(&app, "jonsnow+mfa_sms").await;
        wait_challenge(&app, &widget).await;
        // A secret key where a public key belongs, and the reverse.
        let (status, body) = widget_answer(&app, &app.keys.secret_key, &widget, json!({"code": "123456"})).await;
        assert_error(status, &body, 401, "invalid_api_key");
        let (status, body) = into_json(app.request(Method::POST, "/v1/refresh_intents", Some(&app.keys.public_key),
            Some(json!({"link_token": token}))).await).await;
        assert_error(status, &body, 401, "invalid_api_key");
        // Another organization's public key, and the other mode's.
        for other in [app.key_pair("globex", refresco::domain::Mode::Test).await,
                      app.key_pair("acme", refresco::domain::Mode::Live).await] {
            let (status, body) = widget_answer(&app, &other.public_key, &widget, json!({"code": "123456"})).await;
            assert_error(status, &body, 404, "invalid_widget_token");
        }
        // A widget token of another intent (forged secret), and junk.
        let forged = format!("{id}_sec_AAAAAAAAAAAAAAAAAAAAAAAA");
        for bad in [forged.as_str(), "ri_nope_sec_AAAAAAAAAAAAAAAAAAAAAAAA", "junk"] {
            let (status, body) = widget_answer(&app, &app.keys.public_key, bad, json!({"code": "123456"})).await;
            assert_error(status, &body, 404, "invalid_widget_token");
        }
        // The intent is untouched and still answerable.
        let (status, _) = widget_answer(&app, &app.keys.public_key, &widget, json!({"code": "123456"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(wait_final(&app, &token, &id).await["status"], "succeeded");
    }
}
