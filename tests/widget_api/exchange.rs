//! The exchange: once, only after success, only before expiry, only for the intent's own
//! organization and mode; and what expiry does to the widget token and a pending second factor.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::database::{contains, raw_database};
use crate::common::*;

both_backends_and_connector! {
    async fn an_exchange_token_gives_the_link_token_once(app: TestApp) {
        let intent = create_intent(&app, "cl").await;
        let exchange = intent["exchange_token"].as_str().unwrap().to_owned();
        let (status, body) = exchange_with(&app, &app.keys.secret_key, &exchange).await;
        assert_error(status, &body, 422, "link_intent_not_succeeded");

        let token = widget_token(&intent);
        let (_, done) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow").await;
        // Other tenants' keys, a public key, and a forged secret see nothing.
        let other = app.key_pair("globex", refresco::domain::Mode::Test).await;
        let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
        for key in [&other.secret_key, &live.secret_key] {
            let (status, body) = exchange_with(&app, key, &exchange).await;
            assert_error(status, &body, 404, "invalid_exchange_token");
        }
        let (status, body) = exchange_with(&app, &app.keys.public_key, &exchange).await;
        assert_error(status, &body, 401, "invalid_api_key");
        let id = intent["id"].as_str().unwrap();
        let forged = format!("{id}_exc_AAAAAAAAAAAAAAAAAAAAAAAA");
        for bad in [forged.as_str(), token.as_str(), "junk"] {
            let (status, body) = exchange_with(&app, &app.keys.secret_key, bad).await;
            assert_error(status, &body, 404, "invalid_exchange_token");
        }
        let (status, body) = into_json(app.request(Method::GET, "/v1/links/exchange", Some(&app.keys.secret_key), None).await).await;
        assert_error(status, &body, 400, "missing_parameter");

        let (status, link) = exchange_with(&app, &app.keys.secret_key, &exchange).await;
        assert_eq!(status, StatusCode::OK, "{link}");
        assert_eq!(link["object"], "link");
        assert_eq!(link["id"], done["link"]["id"]);
        assert_eq!(link["accounts"].as_array().unwrap().len(), done["link"]["accounts"].as_array().unwrap().len());
        let link_token = link["link_token"].as_str().unwrap();
        assert!(link_token.starts_with(&format!("{}_token_", link["id"].as_str().unwrap())));
        let (status, fetched) = app.get(&format!("/v1/links/{link_token}")).await;
        assert_eq!(status, StatusCode::OK, "the exchanged token works: {fetched}");
        assert!(fetched["link_token"].is_null());

        let (status, body) = exchange_with(&app, &app.keys.secret_key, &exchange).await;
        assert_error(status, &body, 422, "exchange_token_used");
        // The widget token is spent too.
        let (status, body) = widget(&app, Method::GET, &app.keys.public_key, &token, None).await;
        assert_error(status, &body, 422, "link_intent_finished");
        let (status, body) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow").await;
        assert_error(status, &body, 422, "link_intent_finished");
    }

    async fn tokens_and_challenges_expire(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| {
            c.link_intent_ttl_secs = 3;
            c.mfa_timeout_secs = 1;
        })
        .await
        .unwrap();

        // A second factor left unanswered: the widget goes back to the login.
        let asked_intent = create_intent(&app, "cl").await;
        let asked = widget_token(&asked_intent);
        let (_, view) = log_in(&app, &asked, "cl_banco_sandbox", "41614850-3", "jonsnow+mfa_sms").await;
        assert_eq!(view["mfa"]["method"], "sms", "{view}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let (_, view) = widget(&app, Method::GET, &app.keys.public_key, &asked, None).await;
            if view["mfa"].is_null() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the challenge never expired: {view}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (status, body) = answer(&app, &asked, json!({"code": "123456"})).await;
        assert_error(status, &body, 422, "mfa_expired");

        // A link made in time, exchanged too late; and an intent nobody finished.
        let (done, made) = connect_cl(&app).await;
        let idle = create_intent(&app, "cl").await;
        let idle_id = idle["id"].as_str().unwrap();
        let expired = wait_intent(&app, idle_id, |i| i["status"] == "expired").await;
        assert!(expired["link_id"].is_null());
        let (status, body) = widget(&app, Method::GET, &app.keys.public_key, &widget_token(&idle), None).await;
        assert_error(status, &body, 422, "link_intent_expired");
        let (status, body) = log_in(&app, &widget_token(&idle), "cl_banco_sandbox", "41614850-3", "jonsnow").await;
        assert_error(status, &body, 422, "link_intent_expired");
        wait_intent(&app, made["id"].as_str().unwrap(), |_| {
            chrono::DateTime::parse_from_rfc3339(made["exchange_token_expires_at"].as_str().unwrap()).unwrap()
                < chrono::Utc::now()
        })
        .await;
        let (status, body) = exchange_with(&app, &app.keys.secret_key, done["exchange_token"].as_str().unwrap()).await;
        assert_error(status, &body, 422, "exchange_token_expired");
        let (_, made) = app.get(&format!("/v1/link_intents/{}", made["id"].as_str().unwrap())).await;
        assert_eq!(made["status"], "succeeded", "a finished intent does not turn expired: {made}");
    }

    async fn link_intent_secrets_are_never_stored_in_plaintext(app: TestApp) {
        // A login parked on its second factor (credentials and challenge sealed), and a link
        // made through the widget whose token waits for the exchange.
        let parked = create_intent(&app, "cl").await;
        let password = "jonsnow+mfa_device+long_history";
        let (_, asked) = log_in(&app, &widget_token(&parked), "cl_banco_sandbox", "41614850-3", password).await;
        assert_eq!(asked["mfa"]["method"], "device", "{asked}");
        let (done, made) = connect_cl(&app).await;
        let raw = raw_database(&app).await;
        assert!(contains(&raw, made["id"].as_str().unwrap()), "the dump holds the intent id");
        assert!(!contains(&raw, "long_history"), "bank password in plaintext");
        for intent in [&parked, &made] {
            for token in [intent["widget_token"].as_str().unwrap(), intent["exchange_token"].as_str().unwrap()] {
                let secret = token.rsplit('_').next().unwrap();
                assert!(!contains(&raw, secret), "a token's secret in plaintext: {token}");
            }
        }
        // The link token exists only sealed until the exchange; then not at all.
        let (_, link) = exchange_with(&app, &app.keys.secret_key, done["exchange_token"].as_str().unwrap()).await;
        let link_token = link["link_token"].as_str().unwrap();
        let raw = raw_database(&app).await;
        assert!(!contains(&raw, link_token.rsplit('_').next().unwrap()), "link token in plaintext");
    }
}
