//! Organizations and API keys over the operator's admin API: created, listed with their hints,
//! revoked, and rotated with an overlap in which both keys work.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::*;

const OPERATOR: &str = "operator-token-for-the-key-tests";

/// An admin call with the operator token (or `token`); status and JSON.
async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    into_json(request.send().await.unwrap()).await
}

/// Whether `key` opens `GET /v1/links` (200) or is refused (401).
async fn works(app: &TestApp, key: &str) -> bool {
    let (status, body) =
        into_json(app.request(Method::GET, "/v1/links", Some(key), None).await).await;
    match status.as_u16() {
        200 => true,
        401 => {
            assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
            false
        }
        other => panic!("{other}: {body}"),
    }
}

both_backends! {
    async fn without_an_operator_token_the_admin_api_is_off(app: TestApp) {
        let (status, body) = admin(&app, Method::GET, "/admin/v1/organizations", Some("anything-at-all-here"), None).await;
        assert_error(status, &body, 404, "operator_disabled");
        assert!(body["error"]["message"].as_str().unwrap().contains("operator_token"), "{body}");
    }

    async fn organizations_and_keys_are_created_listed_revoked_and_rotated(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.operator_token = Some(refresco::config::Secret::new(OPERATOR))).await.unwrap();
        // The operator token, and nothing else, opens it: not an API key.
        for token in [None, Some("wrong-operator-token-0000"), Some(app.keys.secret_key.as_str())] {
            let (status, body) = admin(&app, Method::GET, "/admin/v1/organizations", token, None).await;
            assert_error(status, &body, 401, "invalid_operator_token");
        }
        let op = Some(OPERATOR);

        let (status, org) = admin(&app, Method::POST, "/admin/v1/organizations", op, Some(json!({"name": "globex"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        assert!(org["id"].as_str().unwrap().starts_with("org_"));
        let (status, body) = admin(&app, Method::POST, "/admin/v1/organizations", op, Some(json!({"name": "globex"}))).await;
        assert_error(status, &body, 409, "organization_exists");
        let (status, body) = admin(&app, Method::POST, "/admin/v1/organizations", op, Some(json!({"name": "  "}))).await;
        assert_error(status, &body, 400, "missing_parameter");
        let (_, orgs) = admin(&app, Method::GET, "/admin/v1/organizations", op, None).await;
        let names: Vec<&str> = orgs.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["acme", "globex"], "the test app's organization, then the new one");

        let org_id = org["id"].as_str().unwrap();
        let keys_path = format!("/admin/v1/organizations/{org_id}/api_keys");
        let (status, body) = admin(&app, Method::POST, &keys_path, op, Some(json!({"mode": "staging"}))).await;
        assert_error(status, &body, 400, "invalid_params");
        let (status, pair) = admin(&app, Method::POST, &keys_path, op, Some(json!({"mode": "test"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{pair}");
        let secret = pair["secret_key"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("sk_test_") && works(&app, &secret).await);
        // Listed by hint, never by key.
        let (_, listed) = admin(&app, Method::GET, &keys_path, op, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
        assert!(!listed.to_string().contains(&secret[8..]), "a key in a listing: {listed}");
        let secret_record = listed.as_array().unwrap().iter().find(|k| k["kind"] == "secret").unwrap().clone();
        assert_eq!(secret_record["status"], "active");
        assert_eq!(secret_record["hint"], format!("sk_test_…{}", &secret[secret.len() - 4..]));
        // The organization's own listing, with its secret key: its test keys only.
        let (_, own) = into_json(app.request(Method::GET, "/v1/api_keys", Some(&secret), None).await).await;
        assert_eq!(own, listed);
        let (status, _) = admin(&app, Method::GET, "/admin/v1/organizations/org_nope/api_keys", op, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Rotation with an overlap: both keys work, the old one says until when.
        let id = secret_record["id"].as_str().unwrap();
        let (status, body) = admin(&app, Method::POST, &format!("/admin/v1/api_keys/{id}/rotate"), op,
            Some(json!({"overlap_seconds": 100_000_000}))).await;
        assert_error(status, &body, 400, "invalid_params");
        let (status, rotated) = admin(&app, Method::POST, &format!("/admin/v1/api_keys/{id}/rotate"), op,
            Some(json!({"overlap_seconds": 3600}))).await;
        assert_eq!(status, StatusCode::CREATED, "{rotated}");
        let replacement = rotated["key"].as_str().unwrap().to_owned();
        assert!(replacement.starts_with("sk_test_") && replacement != secret);
        assert_eq!(rotated["old"]["status"], "expiring");
        assert!(rotated["old"]["expires_at"].is_string());
        assert_eq!(rotated["new"]["status"], "active");
        assert!(works(&app, &secret).await && works(&app, &replacement).await, "both work in the overlap");

        // Rotating the replacement with no overlap: the replacement stops at once.
        let new_id = rotated["new"]["id"].as_str().unwrap();
        let (status, again) = admin(&app, Method::POST, &format!("/admin/v1/api_keys/{new_id}/rotate"), op,
            Some(json!({"overlap_seconds": 0}))).await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        let third = again["key"].as_str().unwrap().to_owned();
        assert!(!works(&app, &replacement).await, "no overlap: the rotated key stops at once");
        assert!(works(&app, &third).await);
        let (status, body) = admin(&app, Method::POST, &format!("/admin/v1/api_keys/{new_id}/rotate"), op, None).await;
        assert_error(status, &body, 404, "missing_resource");

        // Revocation: at once, and a revoked key cannot be rotated back to life.
        let (status, revoked) = admin(&app, Method::POST, &format!("/admin/v1/api_keys/{id}/revoke"), op, None).await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        assert_eq!(revoked["status"], "revoked");
        assert!(!works(&app, &secret).await, "a revoked key is refused");
        let (status, _) = admin(&app, Method::POST, &format!("/admin/v1/api_keys/{id}/rotate"), op, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = admin(&app, Method::POST, "/admin/v1/api_keys/key_nope/revoke", op, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The default organization's key was never touched.
        assert!(works(&app, &app.keys.secret_key).await);
    }
}
