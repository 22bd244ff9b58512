//! The widget's login: straight in, a second factor (wrong then right, by SMS, device and app),
//! refused logins, and what a link made this way is (the same as one made by the API).

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

both_backends_and_connector! {
    async fn chile_links_straight_in(app: TestApp) {
        let intent = create_intent(&app, "cl").await;
        let id = intent["id"].as_str().unwrap();
        assert!(id.starts_with("li_"), "{intent}");
        assert_eq!(intent["object"], "link_intent");
        assert_eq!(intent["status"], "created");
        assert_eq!(intent["product"], "movements");
        assert_eq!(intent["country"], "cl");
        assert_eq!(intent["holder_type"], "individual");
        assert_eq!(intent["mode"], "test");
        let token = widget_token(&intent);
        assert!(token.starts_with(&format!("{id}_sec_")), "{token}");
        let exchange = intent["exchange_token"].as_str().unwrap();
        assert!(exchange.starts_with(&format!("{id}_exc_")), "{exchange}");
        let created = chrono::DateTime::parse_from_rfc3339(intent["created_at"].as_str().unwrap()).unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(intent["exchange_token_expires_at"].as_str().unwrap()).unwrap();
        assert_eq!((expires - created).num_seconds(), 30 * 60, "30 minutes by default");

        let (status, view) = widget(&app, Method::GET, &app.keys.public_key, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["status"], "created");
        assert_eq!(view["login_attempts_left"], 5);
        assert!(view["mfa"].is_null() && view["exchange_token"].is_null(), "{view}");

        // The picker: the intent's country only, searched by name ignoring case and accents.
        let (status, all) = widget(&app, Method::GET, &app.keys.public_key, &format!("{token}/institutions"), None).await;
        assert_eq!(status, StatusCode::OK, "{all}");
        assert_eq!(all, json!([{"id": "cl_banco_sandbox", "name": "Banco Sandbox Chile", "country": "cl"}]));
        let (_, none) = widget(&app, Method::GET, &app.keys.public_key, &format!("{token}/institutions?q=m%C3%A9xico"), None).await;
        assert_eq!(none, json!([]));

        let (status, done) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow").await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "succeeded");
        assert_eq!(done["exchange_token"], exchange, "onSuccess gets the intent's exchange token");
        let link = &done["link"];
        assert!(link["id"].as_str().unwrap().starts_with("link_"));
        assert_eq!(link["institution"]["id"], "cl_banco_sandbox");
        assert!(!link["holder_name"].as_str().unwrap().is_empty());
        let accounts = link["accounts"].as_array().unwrap();
        assert!(accounts.len() >= 2, "{link}");
        for account in accounts {
            let number = account["number"].as_str().unwrap();
            assert!(number.starts_with("••••") && number.chars().count() == 8, "masked: {number}");
        }

        let (_, retrieved) = app.get(&format!("/v1/link_intents/{id}")).await;
        assert_eq!(retrieved["status"], "succeeded");
        assert_eq!(retrieved["link_id"], link["id"]);
        assert!(retrieved["widget_token"].is_null() && retrieved["exchange_token"].is_null(), "tokens only at creation: {retrieved}");
    }

    async fn mexico_asks_for_sms_wrong_code_then_right(app: TestApp) {
        let intent = create_intent(&app, "mx").await;
        let token = widget_token(&intent);
        let (_, banks) = widget(&app, Method::GET, &app.keys.public_key, &format!("{token}/institutions?q=MEXICO"), None).await;
        assert_eq!(banks[0]["id"], "mx_banco_sandbox", "{banks}");
        let (status, asked) = log_in(&app, &token, "mx_banco_sandbox", "SAND800101AB1", "jonsnow").await;
        assert_eq!(status, StatusCode::OK, "{asked}");
        assert_eq!(asked["status"], "created");
        assert_eq!(asked["mfa"]["method"], "sms");
        assert_eq!(asked["mfa"]["attempts_left"], 3);
        assert_eq!(asked["mfa"]["institution"]["name"], "Banco Sandbox México");
        assert!(asked["mfa"]["hint"].as_str().unwrap().contains("SMS"), "{asked}");
        assert_eq!(asked["login_attempts_left"], 4, "a login that asks for a code counts");
        // Reloading the widget shows the same step.
        let (_, view) = widget(&app, Method::GET, &app.keys.public_key, &token, None).await;
        assert_eq!(view["mfa"]["method"], "sms");

        let (status, wrong) = answer(&app, &token, json!({"code": "000000"})).await;
        assert_error(status, &wrong, 400, "invalid_mfa_code");
        assert_eq!(wrong["error"]["attempts_left"], 2);
        let (status, done) = answer(&app, &token, json!({"code": "123456"})).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "succeeded");
        assert_eq!(done["link"]["institution"]["id"], "mx_banco_sandbox");

        // The same link as POST /v1/links makes: it remembers its bank's second factor, so a
        // refresh intent asks the widget for one.
        let (status, link) = exchange_with(&app, &app.keys.secret_key, done["exchange_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{link}");
        // A link made in the widget gets its first history too, with the widget's session:
        // no second factor again.
        let history = app.first_history(&app.keys.secret_key, link["link_token"].as_str().unwrap()).await;
        assert_eq!(history["status"], "succeeded", "{history}");
        assert!(history["requires_mfa"].is_null() && history["new_movements"].as_i64().unwrap() > 0, "{history}");
        let (status, refresh) = into_json(app.request(Method::POST, "/v1/refresh_intents", Some(&app.keys.secret_key),
            Some(json!({"link_token": link["link_token"]}))).await).await;
        assert_eq!(status, StatusCode::CREATED, "{refresh}");
        assert!(refresh["requires_mfa"]["widget_token"].is_string(), "{refresh}");
    }

    async fn device_token_and_app_approval(app: TestApp) {
        for (password, body) in [("jonsnow+mfa_device", json!({"code": "123456"})), ("jonsnow+mfa_app", json!({"approved": true}))] {
            let token = widget_token(&create_intent(&app, "cl").await);
            let (_, asked) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", password).await;
            let method = password.trim_start_matches("jonsnow+mfa_");
            assert_eq!(asked["mfa"]["method"], method, "{asked}");
            let (status, done) = answer(&app, &token, body).await;
            assert_eq!(status, StatusCode::OK, "{done}");
            assert_eq!(done["status"], "succeeded");
        }
    }

    async fn used_up_codes_mean_logging_in_again(app: TestApp) {
        let token = widget_token(&create_intent(&app, "cl").await);
        let (status, body) = answer(&app, &token, json!({"code": "123456"})).await;
        assert_error(status, &body, 409, "mfa_not_requested");
        log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow+mfa_sms").await;
        for left in [2, 1, 0] {
            let (status, body) = answer(&app, &token, json!({"code": "111111"})).await;
            assert_error(status, &body, 400, "invalid_mfa_code");
            assert_eq!(body["error"]["attempts_left"], left);
        }
        let (_, view) = widget(&app, Method::GET, &app.keys.public_key, &token, None).await;
        assert!(view["mfa"].is_null(), "the challenge is dropped: {view}");
        let (status, body) = answer(&app, &token, json!({"code": "123456"})).await;
        assert_error(status, &body, 409, "mfa_not_requested");
        let (_, again) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow+mfa_sms").await;
        assert_eq!(again["mfa"]["attempts_left"], 3, "{again}");
        let (status, done) = answer(&app, &token, json!({"code": "123456"})).await;
        assert_eq!(status, StatusCode::OK, "{done}");
    }

    async fn refused_logins_say_what_to_do_and_are_limited(app: TestApp) {
        let intent = create_intent(&app, "cl").await;
        let token = widget_token(&intent);
        let (status, body) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "wrong").await;
        assert_error(status, &body, 406, "institution_credentials_invalid");
        assert_eq!(body["error"]["type"], "link_error");
        assert_eq!(body["error"]["login_attempts_left"], 4);
        let (status, body) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow+locked").await;
        assert_error(status, &body, 406, "locked_credentials");
        // A bank that is down is not the person's fault: it does not count.
        let (status, body) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow+unavailable").await;
        assert_error(status, &body, 503, "unavailable_institution");
        assert!(body["error"]["login_attempts_left"].is_null());
        for left in [2, 1, 0] {
            let (_, body) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "wrong").await;
            assert_eq!(body["error"]["login_attempts_left"], left, "{body}");
        }
        let (status, body) = log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow").await;
        assert_error(status, &body, 422, "link_intent_failed");
        let (_, retrieved) = app.get(&format!("/v1/link_intents/{}", intent["id"].as_str().unwrap())).await;
        assert_eq!(retrieved["status"], "failed");
        let (status, links) = app.get("/v1/links").await;
        assert_eq!((status, links), (StatusCode::OK, json!([])));
    }

    async fn the_institution_must_be_of_the_intents_country(app: TestApp) {
        let token = widget_token(&create_intent(&app, "cl").await);
        let (status, body) = log_in(&app, &token, "mx_banco_sandbox", "SAND800101AB1", "jonsnow").await;
        assert_error(status, &body, 400, "invalid_institution");
        let (status, body) = log_in(&app, &token, "cl_banco_de_chile", "41614850-3", "jonsnow").await;
        assert_error(status, &body, 400, "invalid_institution");
        let (status, body) = widget(&app, Method::POST, &app.keys.public_key, &format!("{token}/credentials"),
            Some(json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3"}))).await;
        assert_error(status, &body, 400, "missing_parameter");
        assert_eq!(body["error"]["param"], "password");
    }

    async fn creating_link_intents_checks_every_field(app: TestApp) {
        let key = app.keys.secret_key.clone();
        let cases = [
            (json!({"country": "cl", "holder_type": "individual"}), "missing_parameter", "product"),
            (json!({"product": "payments", "country": "cl", "holder_type": "individual"}), "invalid_product", "product"),
            (json!({"product": "movements", "holder_type": "individual"}), "missing_parameter", "country"),
            (json!({"product": "movements", "country": "ar", "holder_type": "individual"}), "invalid_country", "country"),
            (json!({"product": "movements", "country": "cl"}), "missing_parameter", "holder_type"),
            (json!({"product": "movements", "country": "cl", "holder_type": "company"}), "invalid_holder_type", "holder_type"),
        ];
        for (body, code, param) in cases {
            let (status, error) = create_intent_with(&app, &key, body).await;
            assert_error(status, &error, 400, code);
            assert_eq!(error["error"]["param"], param);
        }
        let (status, intent) = create_intent_with(&app, &key,
            json!({"product": "movements", "country": "MX", "holder_type": "business"})).await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        assert_eq!((intent["country"].as_str(), intent["holder_type"].as_str()), (Some("mx"), Some("business")));
        // A company logs in with a company's tax id.
        let token = widget_token(&intent);
        let (status, asked) = log_in(&app, &token, "mx_banco_sandbox", "SAN990401XY9", "jonsnow").await;
        assert_eq!(status, StatusCode::OK, "{asked}");
        assert_eq!(asked["mfa"]["method"], "sms");
    }

    async fn racing_logins_make_one_link(app: TestApp) {
        let intent = create_intent(&app, "cl").await;
        let token = widget_token(&intent);
        // A slow bank keeps every login in flight at once (a double click, two tabs).
        let app = std::sync::Arc::new(app);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (app, token) = (app.clone(), token.clone());
                tokio::spawn(async move {
                    log_in(&app, &token, "cl_banco_sandbox", "41614850-3", "jonsnow+slow200ms").await
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status.as_u16() {
                200 => won += 1,
                _ => assert_error(status, &body, 422, "link_intent_finished"),
            }
        }
        assert_eq!(won, 1, "exactly one login creates the link");
        let (_, links) = app.get("/v1/links").await;
        assert_eq!(links.as_array().unwrap().len(), 1, "{links}");
    }
}
