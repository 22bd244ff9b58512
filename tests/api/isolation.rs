//! A key sees only its own organization's objects of its own mode.

use refresco::domain::Mode;
use reqwest::Method;

use crate::both_backends;
use crate::common::*;

both_backends! {
    async fn foreign_organizations_and_modes_see_nothing(app: TestApp) {
        let (link, token) = app.create_link("41614850-3").await;
        let account = link["accounts"][0]["id"].as_str().unwrap().to_owned();
        let other_org = app.key_pair("globex", Mode::Test).await;
        let live_same_org = app.key_pair("acme", Mode::Live).await;

        for key in [&other_org.secret_key, &live_same_org.secret_key] {
            for path in [
                format!("/v1/links/{token}"),
                format!("/v1/accounts?link_token={token}"),
                format!("/v1/accounts/{account}?link_token={token}"),
                format!("/v1/accounts/{account}/movements?link_token={token}"),
            ] {
                let (status, body) = into_json(app.request(Method::GET, &path, Some(key), None).await).await;
                assert_error(status, &body, 404, "invalid_link_token");
                assert!(!body.to_string().contains(&account), "no data leaks: {body}");
            }
            let (status, list) = into_json(app.request(Method::GET, "/v1/links", Some(key), None).await).await;
            assert_eq!(status.as_u16(), 200);
            assert!(list.as_array().unwrap().is_empty(), "foreign list is empty: {list}");
            let id = link["id"].as_str().unwrap();
            let (status, body) = into_json(app.request(Method::DELETE, &format!("/v1/links/{id}"), Some(key), None).await).await;
            assert_error(status, &body, 404, "missing_resource");
            let (status, _) = into_json(app.request(Method::PATCH, &format!("/v1/links/{token}"), Some(key),
                Some(serde_json::json!({"active": false}))).await).await;
            assert_eq!(status.as_u16(), 404);
        }
        // Untouched by the foreign attempts.
        let (status, got) = app.get(&format!("/v1/links/{token}")).await;
        assert_eq!(status.as_u16(), 200);
        assert_eq!(got["active"], true);
    }

    async fn wrong_and_forged_tokens_are_rejected(app: TestApp) {
        let (link, token) = app.create_link("41614850-3").await;
        let id = link["id"].as_str().unwrap();
        // Right id, wrong secret.
        let forged = format!("{id}_token_AAAAAAAAAAAAAAAAAAAAAAAA");
        for bad in [forged.as_str(), "link_unknown_token_AAAAAAAAAAAAAAAAAAAAAAAA", "garbage", "%F0%9F%92%A9", "link_%00_token_x"] {
            let (status, body) = app.get(&format!("/v1/accounts?link_token={bad}")).await;
            assert_error(status, &body, 404, "invalid_link_token");
        }
        assert!(app.get(&format!("/v1/accounts?link_token={token}")).await.0.is_success());
    }

    async fn keys_are_checked_and_both_header_forms_work(app: TestApp) {
        let (status, body) = into_json(app.request(Method::GET, "/v1/links", None, None).await).await;
        assert_error(status, &body, 401, "invalid_api_key");
        assert_eq!(body["error"]["type"], "authentication_error");
        let (status, _) = into_json(app.request(Method::GET, "/v1/links", Some("sk_test_doesnotexist"), None).await).await;
        assert_eq!(status.as_u16(), 401);
        let bearer = format!("Bearer {}", app.keys.secret_key);
        let (status, _) = into_json(app.request(Method::GET, "/v1/links", Some(&bearer), None).await).await;
        assert_eq!(status.as_u16(), 200);
        // A public key is not a secret key.
        let (status, body) = into_json(app.request(Method::GET, "/v1/links", Some(&app.keys.public_key), None).await).await;
        assert_error(status, &body, 401, "invalid_api_key");
        // A key with the right secret but a different claimed mode is refused.
        let tampered = app.keys.secret_key.replacen("sk_test_", "sk_live_", 1);
        let (status, _) = into_json(app.request(Method::GET, "/v1/links", Some(&tampered), None).await).await;
        assert_eq!(status.as_u16(), 401);
    }
}
