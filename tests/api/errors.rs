//! Every non-2xx answer is Fintoc's error JSON, and bad input is a 4xx, never a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::*;

both_backends! {
    async fn nul_in_any_text_is_a_400_naming_the_field(app: TestApp) {
        let key = app.keys.secret_key.clone();
        let hook = json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"], "description": "a\u{0}b"});
        // Twice with one Idempotency-Key: the refusal is not stored, and is the same again.
        for _ in 0..2 {
            let response = app.client.post(format!("{}/v1/webhook_endpoints", app.base))
                .header("Authorization", &key).header("Idempotency-Key", "nul-1")
                .json(&hook).send().await.unwrap();
            let (status, body) = into_json(response).await;
            assert_error(status, &body, 400, "invalid_params");
            assert_eq!(body["error"]["param"], "description", "{body}");
        }
        let (status, body) = into_json(app.request(Method::POST, "/v1/webhook_endpoints", Some(&key),
            Some(json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["link.created", "x\u{0}"]}))).await).await;
        assert_error(status, &body, 400, "invalid_params");
        assert_eq!(body["error"]["param"], "enabled_events[1]", "{body}");

        let (status, endpoint) = into_json(app.request(Method::POST, "/v1/webhook_endpoints", Some(&key),
            Some(json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"], "description": "kept"}))).await).await;
        assert_eq!(status, StatusCode::CREATED, "{endpoint}");
        let path = format!("/v1/webhook_endpoints/{}", endpoint["id"].as_str().unwrap());
        let (status, body) = into_json(app.request(Method::PATCH, &path, Some(&key),
            Some(json!({"description": "a\u{0}b"}))).await).await;
        assert_error(status, &body, 400, "invalid_params");
        assert_eq!(body["error"]["param"], "description");
        let (_, stored) = app.get(&path).await;
        assert_eq!(stored["description"], "kept", "the refused update changed nothing");
        let (_, all) = app.get("/v1/webhook_endpoints").await;
        assert_eq!(all.as_array().unwrap().len(), 1, "only the clean endpoint exists: {all}");

        let (status, body) = into_json(app.request(Method::POST, "/v1/links", Some(&key),
            Some(json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3\u{0}", "password": "jonsnow"}))).await).await;
        assert_error(status, &body, 400, "invalid_params");
        assert_eq!(body["error"]["param"], "username");
        // A parameter the request does not read is ignored, NUL or not: it is never stored.
        let (status, body) = into_json(app.request(Method::POST, "/v1/webhook_endpoints", Some(&key),
            Some(json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"], "unknown\u{0}": "a\u{0}b"}))).await).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn framework_errors_are_fintoc_json(app: TestApp) {
        let key = app.keys.secret_key.clone();
        let (status, body) = into_json(app.request(Method::GET, "/v1/nope", Some(&key), None).await).await;
        assert_error(status, &body, 404, "invalid_url");
        let (status, body) = into_json(app.request(Method::PUT, "/v1/links", Some(&key), None).await).await;
        assert_error(status, &body, 405, "operation_not_allowed");

        // Malformed JSON, a non-object, wrong types.
        // A wrong type names its field in `param`, nested ones by their path.
        for (path, raw, code, param) in [
            ("/v1/links", "{\"institution_id\": ", "invalid_json", Value::Null),
            ("/v1/links", "[1,2]", "invalid_json", Value::Null),
            ("/v1/links", "{\"username\": 5}", "invalid_params", json!("username")),
            ("/v1/webhook_endpoints", "{\"url\": \"http://127.0.0.1:9/h\", \"enabled_events\": [\"*\", 7]}",
             "invalid_params", json!("enabled_events[1]")),
            ("/v1/webhook_endpoints", "{\"url\": \"http://127.0.0.1:9/h\", \"enabled_events\": \"*\"}",
             "invalid_params", json!("enabled_events")),
        ] {
            let response = app.client.post(format!("{}{path}", app.base))
                .header("Authorization", &key).header("Content-Type", "application/json")
                .body(raw).send().await.unwrap();
            let (status, body) = into_json(response).await;
            assert_error(status, &body, 400, code);
            assert_eq!(body["error"]["param"], param, "{raw}: {body}");
        }
        // Oversized body.
        let huge = format!("{{\"username\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let response = app.client.post(format!("{}/v1/links", app.base))
            .header("Authorization", &key).body(huge).send().await.unwrap();
        assert_eq!(response.headers()["connection"], "close", "the unread body ends the connection");
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 413, "request_too_large");
        // Wrong query types.
        let (status, body) = app.get("/v1/links?page=abc").await;
        assert_error(status, &body, 400, "invalid_params");
        assert_eq!(body["error"]["param"], "page");
        let (status, body) = app.get("/v1/links?per_page=0").await;
        assert_error(status, &body, 400, "invalid_params");
        let (status, body) = app.get("/v1/links?page=1&page=2").await;
        assert_error(status, &body, 400, "invalid_params");
    }

    async fn unicode_junk_and_unknown_parameters(app: TestApp) {
        let (_, token) = app.create_link("41614850-3").await;
        let (_, accounts) = app.get(&format!("/v1/accounts?link_token={token}")).await;
        let account = accounts[0]["id"].as_str().unwrap().to_owned();
        // Unknown parameters are ignored.
        let (status, _) = app.get(&format!("/v1/accounts?link_token={token}&foo=bar&update=function+()")).await;
        assert_eq!(status, StatusCode::OK);
        let junk = ["%F0%9F%92%A9", "%E2%80%AE%00", "%C3%B1%C3%B1", "%FF%FE", "'%20OR%201=1--", "..%2F..%2Fetc"];
        for j in junk {
            for path in [
                format!("/v1/links/{j}"),
                format!("/v1/accounts/{j}?link_token={token}"),
                format!("/v1/accounts/{account}/movements?link_token={token}&since={j}"),
                format!("/v1/accounts/{account}/movements?link_token={token}&page={j}"),
                format!("/v1/accounts/{account}/movements/{j}?link_token={token}"),
                format!("/v1/accounts?link_token={j}"),
            ] {
                let (status, body) = app.get(&path).await;
                assert!(status.is_client_error(), "{path} gave {status}: {body}");
                assert!(body["error"]["type"].is_string(), "{path}: {body}");
            }
        }
        let response = app.request(Method::POST, "/v1/links", Some(&app.keys.secret_key),
            Some(json!({"institution_id": "\u{202e}💩\u{0}", "username": "ñ", "password": "\u{ffff}"}))).await;
        let (status, body) = into_json(response).await;
        assert!(status.is_client_error(), "{body}");
        // Junk usernames reach the banks' own parsers (RUT, RFC): still a 4xx.
        for (institution, username) in [("cl_banco_sandbox", "ñ"), ("cl_banco_sandbox", "𥙶"),
                                        ("cl_banco_sandbox", "4𥙶-k"), ("mx_banco_sandbox", "𥙶𥙶𥙶𥙶𥙶𥙶𥙶𥙶𥙶𥙶𥙶𥙶𥙶"),
                                        ("mx_banco_sandbox", "ñ")] {
            let response = app.request(Method::POST, "/v1/links", Some(&app.keys.secret_key),
                Some(json!({"institution_id": institution, "username": username, "password": "jonsnow"}))).await;
            let (status, body) = into_json(response).await;
            assert_error(status, &body, 406, "institution_credentials_invalid");
        }
    }

    async fn trailing_slash_version_header_and_health(app: TestApp) {
        let response = app.client.get(format!("{}/v1/links/", app.base))
            .header("Authorization", &app.keys.secret_key)
            .header("Fintoc-Version", "2023-11-15").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "no redirect for a trailing slash");
        let (status, body) = into_json(app.request(Method::GET, "/healthz", None, None).await).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
        let (status, _) = into_json(app.request(Method::GET, "/readyz", None, None).await).await;
        assert_eq!(status, StatusCode::OK);
        let (status, doc) = into_json(app.request(Method::GET, "/v1/openapi.json", None, None).await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in ["/v1/links", "/v1/links/{link_token}", "/v1/accounts", "/v1/accounts/{account_id}",
                     "/v1/accounts/{account_id}/movements", "/v1/accounts/{account_id}/movements/{movement_id}"] {
            assert!(doc["paths"].get(path).is_some(), "documented: {path}");
        }
    }

    async fn internal_errors_are_json_500_without_detail(app: TestApp) {
        // Break the database under the running server: the answer must still be Fintoc JSON.
        app.state.store.close().await;
        let (status, body) = app.get("/v1/links").await;
        assert_error(status, &body, 500, "internal_server_error");
        assert_eq!(body["error"]["type"], "api_error");
        assert!(!body.to_string().to_lowercase().contains("pool"), "no internals leak: {body}");
        let (status, _) = into_json(app.request(Method::GET, "/readyz", None, None).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
