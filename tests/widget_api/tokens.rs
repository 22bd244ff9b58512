//! Bad keys and tokens at the widget's link-intent endpoints: a secret key where a public key
//! belongs (and the reverse), another organization's or mode's public key, forged, foreign and
//! junk tokens. Every one is refused and leaves the intent usable.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

both_backends_and_connector! {
    async fn wrong_keys_and_tokens_are_refused(app: TestApp) {
        let intent = create_intent(&app, "cl").await;
        let token = widget_token(&intent);
        let login = json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow"});

        // A secret key given to the widget, and a public key creating intents.
        let (status, body) = widget(&app, Method::GET, &app.keys.secret_key, &token, None).await;
        assert_error(status, &body, 401, "invalid_api_key");
        let (status, body) = widget(&app, Method::POST, &app.keys.secret_key, &format!("{token}/credentials"), Some(login.clone())).await;
        assert_error(status, &body, 401, "invalid_api_key");
        let (status, body) = create_intent_with(&app, &app.keys.public_key,
            json!({"product": "movements", "country": "cl", "holder_type": "individual"})).await;
        assert_error(status, &body, 401, "invalid_api_key");
        let (status, body) = into_json(app.request(Method::GET, &format!("/v1/widget/link_intents/{token}"), None, None).await).await;
        assert_error(status, &body, 401, "invalid_api_key");

        // Public keys of another organization, and of the other mode of the same one.
        for other in [app.key_pair("globex", refresco::domain::Mode::Test).await,
                      app.key_pair("acme", refresco::domain::Mode::Live).await] {
            for (method, path, body) in [(Method::GET, token.clone(), None),
                                         (Method::GET, format!("{token}/institutions"), None),
                                         (Method::POST, format!("{token}/credentials"), Some(login.clone()))] {
                let (status, error) = widget(&app, method, &other.public_key, &path, body).await;
                assert_error(status, &error, 404, "invalid_widget_token");
            }
        }

        // Forged secrets, the exchange token, a refresh intent's token shape, junk.
        let id = intent["id"].as_str().unwrap();
        let forged = format!("{id}_sec_AAAAAAAAAAAAAAAAAAAAAAAA");
        let exchange = intent["exchange_token"].as_str().unwrap();
        for bad in [forged.as_str(), exchange, "ri_abc_sec_AAAAAAAAAAAAAAAAAAAAAAAA", "li_nope_sec_AAAAAAAAAAAAAAAAAAAAAAAA", "junk"] {
            let (status, body) = widget(&app, Method::GET, &app.keys.public_key, bad, None).await;
            assert_error(status, &body, 404, "invalid_widget_token");
        }
        // Another organization's intent is invisible to this secret key.
        let other = app.key_pair("globex", refresco::domain::Mode::Test).await;
        let (status, body) = into_json(app.request(Method::GET, &format!("/v1/link_intents/{id}"), Some(&other.secret_key), None).await).await;
        assert_error(status, &body, 404, "missing_resource");

        // None of it touched the intent.
        let (_, view) = widget(&app, Method::GET, &app.keys.public_key, &token, None).await;
        assert_eq!(view["login_attempts_left"], 5, "{view}");
        let (status, done) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow").await;
        assert_eq!(status, StatusCode::OK, "{done}");
    }

    async fn a_refresh_widget_token_is_not_a_link_widget_token(app: TestApp) {
        let (_, link_token) = app.create_link_with_mfa("jonsnow+mfa_sms", "123456").await;
        let (status, refresh) = into_json(app.request(Method::POST, "/v1/refresh_intents", Some(&app.keys.secret_key),
            Some(json!({"link_token": link_token}))).await).await;
        assert_eq!(status, StatusCode::CREATED, "{refresh}");
        let refresh_token = refresh["requires_mfa"]["widget_token"].as_str().unwrap();
        let (status, body) = widget(&app, Method::GET, &app.keys.public_key, refresh_token, None).await;
        assert_error(status, &body, 404, "invalid_widget_token");
        let token = widget_token(&create_intent(&app, "cl").await);
        let (status, body) = into_json(app.request(Method::GET, &format!("/v1/widget/refresh_intents/{token}"),
            Some(&app.keys.public_key), None).await).await;
        assert_error(status, &body, 404, "invalid_widget_token");
    }
}
