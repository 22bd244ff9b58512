//! What the OpenAPI document says a parameter accepts is accepted, and what it forbids is
//! refused with a 400 naming the parameter (the schemathesis pass in `tests/clients/fuzz.rs` checks
//! the same at random; these are the cases it found).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::*;

/// A 400 whose `param` is `param`.
fn refused(status: StatusCode, body: &Value, code: &str, param: &str) {
    assert_error(status, body, 400, code);
    assert_eq!(body["error"]["param"], param, "{body}");
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    into_json(
        app.request(method, path, Some(&app.keys.secret_key), body)
            .await,
    )
    .await
}

both_backends! {
    async fn per_page_above_300_is_used_as_300_and_the_link_header_says_so(app: TestApp) {
        app.create_link("41614850-3").await;
        for path in ["/v1/links", "/v1/webhook_endpoints", "/v1/events"] {
            let response = app
                .request(Method::GET, &format!("{path}?per_page=2147483648&x=1"), Some(&app.keys.secret_key), None)
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let link = response.headers()["link"].to_str().unwrap().to_owned();
            assert!(link.contains("per_page=300&x=1&page=1"), "{path}: {link}");
            assert!(!link.contains("2147483648"), "{path}: {link}");
        }
        // Any number of digits is an integer the document allows.
        let (status, _) = app.get("/v1/links?page=99999999999999999999999&per_page=99999999999999999999").await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn page_parameters_outside_the_integers_from_1_are_refused(app: TestApp) {
        for (query, param) in [
            ("per_page=0", "per_page"),
            ("per_page=-1", "per_page"),
            ("per_page=", "per_page"),
            ("per_page=1.5", "per_page"),
            ("per_page=%201", "per_page"),
            ("page=", "page"),
            ("page=abc", "page"),
        ] {
            let (status, body) = app.get(&format!("/v1/links?{query}")).await;
            refused(status, &body, "invalid_params", param);
        }
    }

    async fn event_filters_outside_their_sets_are_refused(app: TestApp) {
        for (query, code, param) in [
            ("type=not.an.event", "invalid_enum", "type"),
            ("type=", "invalid_enum", "type"),
            ("link_id=%C3%BF", "invalid_params", "link_id"),
            ("link_id=", "invalid_params", "link_id"),
            ("since=", "invalid_date", "since"),
            ("until=2024-13-01", "invalid_date", "until"),
        ] {
            let (status, body) = app.get(&format!("/v1/events?{query}")).await;
            refused(status, &body, code, param);
        }
        let (status, body) = app.get("/v1/events?type=link.credentials_changed&link_id=link_abc&since=2024-01-01&until=2024-01-02T00:00:00Z").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn empty_strings_are_values_not_absences(app: TestApp) {
        let (link, token) = app.create_link("41614850-3").await;
        let account = link["accounts"][0]["id"].as_str().unwrap().to_owned();
        let movements = format!("/v1/accounts/{account}/movements?link_token={token}");
        for param in ["since", "until"] {
            let (status, body) = app.get(&format!("{movements}&{param}=")).await;
            refused(status, &body, "invalid_date", param);
        }
        for (field, code) in [("refresh_type", "invalid_refresh_type"), ("result_status", "invalid_enum")] {
            let (status, body) = send(&app, Method::POST, "/v1/refresh_intents",
                Some(json!({"link_token": token, field: ""}))).await;
            refused(status, &body, code, field);
        }
        let (status, body) = send(&app, Method::POST, "/v1/refresh_intents", Some(json!({"link_token": ""}))).await;
        assert_error(status, &body, 400, "missing_parameter");
        assert_eq!(body["error"]["param"], "link_token");
        let (status, body) = send(&app, Method::POST, "/v1/events/trigger", Some(json!({"type": ""}))).await;
        assert_eq!((status.as_u16(), &body["error"]["param"]), (400, &json!("type")), "{body}");
    }

    async fn a_blank_mfa_code_is_refused_even_with_approved(app: TestApp) {
        let (_, token) = app.create_link("41614850-3").await;
        let (status, intent) = send(&app, Method::POST, "/v1/refresh_intents", Some(json!({"link_token": token}))).await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        let path = format!("/v1/refresh_intents/{}/mfa?link_token={token}", intent["id"].as_str().unwrap());
        let (status, body) = send(&app, Method::POST, &path, Some(json!({"code": "  ", "approved": true}))).await;
        assert_error(status, &body, 400, "missing_parameter");
        assert_eq!(body["error"]["param"], "code");
        let (status, body) = send(&app, Method::POST, &path, Some(json!({"code": "1".repeat(65)}))).await;
        refused(status, &body, "invalid_params", "code");
    }

    async fn a_patch_without_a_body_changes_nothing(app: TestApp) {
        let (status, endpoint) = send(&app, Method::POST, "/v1/webhook_endpoints",
            Some(json!({"url": "https://example.com/hook", "enabled_events": ["*"]}))).await;
        assert_eq!(status, StatusCode::CREATED, "{endpoint}");
        let path = format!("/v1/webhook_endpoints/{}", endpoint["id"].as_str().unwrap());
        let (status, after) = send(&app, Method::PATCH, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{after}");
        assert_eq!(after["url"], endpoint["url"]);
        // `null` is "unchanged" too, as the document's nullable `url` says.
        let (status, after) = send(&app, Method::PATCH, &path,
            Some(json!({"url": null, "enabled_events": null, "description": null, "disabled": null}))).await;
        assert_eq!((status, &after["url"]), (StatusCode::OK, &endpoint["url"]), "{after}");
        // An unknown type beside "*" is refused, not swallowed by it.
        let (status, body) = send(&app, Method::PATCH, &path,
            Some(json!({"enabled_events": ["*", "account.not_an_event"]}))).await;
        refused(status, &body, "invalid_webhook_subscription", "enabled_events");
    }

    async fn the_document_states_these_sets(app: TestApp) {
        let (status, doc) = app.get("/v1/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        let params = &doc["paths"]["/v1/links"]["get"]["parameters"];
        let per_page = params.as_array().unwrap().iter().find(|p| p["name"] == "per_page").unwrap();
        assert_eq!(per_page["schema"], json!({"type": "integer", "minimum": 1}), "no format, no maximum");
        let institutions = &doc["components"]["schemas"]["LinkIn"]["properties"]["institution_id"]["enum"];
        assert!(institutions.as_array().unwrap().contains(&json!("cl_banco_sandbox")), "{institutions}");
        let countries = &doc["components"]["schemas"]["LinkIntentIn"]["properties"]["country"]["enum"];
        assert_eq!(countries, &json!(["cl", "mx"]));
        let events = &doc["paths"]["/v1/events"]["get"]["parameters"];
        let filter = events.as_array().unwrap().iter().find(|p| p["name"] == "type").unwrap();
        assert!(filter["schema"]["enum"].as_array().unwrap().contains(&json!("link.credentials_changed")));
        let patch = &doc["paths"]["/v1/webhook_endpoints/{id}"]["patch"]["requestBody"];
        assert_eq!(patch["required"], false);
        let fields = &doc["components"]["schemas"]["WebhookEndpointPatch"]["properties"];
        assert_eq!(fields["enabled_events"]["type"], json!(["array", "null"]), "{fields}");
        assert_eq!(fields["url"]["type"], json!(["string", "null"]), "{fields}");
    }
}
