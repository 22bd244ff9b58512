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

    async fn another_links_account_is_not_reachable_through_a_token(app: TestApp) {
        let (link, token) = app.create_link("41614850-3").await;
        let (_, other_token) = app.create_link("41579263-8").await;
        let account = link["accounts"][0]["id"].as_str().unwrap();
        for path in [
            format!("/v1/accounts/{account}?link_token={other_token}"),
            format!("/v1/accounts/{account}/movements?link_token={other_token}"),
            format!("/v1/accounts/{account}/movements?link_token={other_token}&per_page=300&confirmed_only=false"),
        ] {
            let (status, body) = app.get(&path).await;
            assert_error(status, &body, 404, "missing_resource");
            assert_eq!(body["error"]["param"], serde_json::Value::Null);
        }
        let (status, page) = app.get(&format!("/v1/accounts/{account}/movements?link_token={token}")).await;
        assert_eq!(status.as_u16(), 200, "{page}");
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

    async fn link_scoped_routes_check_the_key_then_the_token(app: TestApp) {
        let (link, token) = app.create_link("41614850-3").await;
        let account = link["accounts"][0]["id"].as_str().unwrap();
        let tampered = app.keys.secret_key.replacen("sk_test_", "sk_live_", 1);
        let bearer = format!("Bearer {}", app.keys.secret_key);
        let forged = format!("{}_token_AAAAAAAAAAAAAAAAAAAAAAAA", link["id"].as_str().unwrap());
        for path in ["/v1/accounts".to_owned(), format!("/v1/accounts/{account}/movements")] {
            // (key, query, expected status, expected code; None: a non-empty list).
            let mut cases: Vec<(Option<&str>, String, u16, Option<&str>)> = Vec::new();
            // A bad key is a 401 whatever the token, even a missing one.
            for key in [None, Some("sk_test_doesnotexist"), Some(app.keys.public_key.as_str()), Some(tampered.as_str())] {
                for query in [format!("link_token={token}"), String::new(), "link_token=garbage".into()] {
                    cases.push((key, query, 401, Some("invalid_api_key")));
                }
            }
            // Then the token: missing, unreadable, malformed, forged; then the answer.
            let key = Some(bearer.as_str());
            cases.push((key, "per_page=5".into(), 400, Some("missing_parameter")));
            cases.push((key, "link_token=a&link_token=b".into(), 400, Some("invalid_params")));
            for bad in ["garbage", forged.as_str()] {
                cases.push((key, format!("link_token={bad}"), 404, Some("invalid_link_token")));
            }
            cases.push((key, format!("link_token={token}"), 200, None));
            for (key, query, status, code) in cases {
                let url = format!("{path}?{query}");
                let (got, body) = into_json(app.request(Method::GET, &url, key, None).await).await;
                match code {
                    Some(code) => assert_error(got, &body, status, code),
                    None => {
                        assert_eq!(got.as_u16(), status, "{url}: {body}");
                        assert!(body.as_array().is_some_and(|items| !items.is_empty()), "{body}");
                    }
                }
            }
        }
    }

    async fn a_key_stored_after_a_miss_works_at_once(app: TestApp) {
        // Keys are cached in memory once found; a miss must not be remembered, or a key made
        // by `keys create` (or another process) would stay refused.
        let secret = "sk_test_stored_after_a_miss_0123456789abcdef";
        let public = "pk_test_stored_after_a_miss_0123456789abcdef";
        let (_, token) = app.create_link("41614850-3").await;
        for path in ["/v1/links".to_owned(), format!("/v1/accounts?link_token={token}")] {
            let (status, body) = into_json(app.request(Method::GET, &path, Some(secret), None).await).await;
            assert_error(status, &body, 401, "invalid_api_key");
        }
        let keys = &app.state.keys;
        app.state.store.create_key_pair("late", &refresco::store::NewKeyPair {
            mode: Mode::Test,
            secret_hash: keys.hash_token(secret),
            secret_hint: "sk_test_…cdef".into(),
            public_hash: keys.hash_token(public),
            public_hint: "pk_test_…cdef".into(),
        }).await.unwrap();
        let (status, list) = into_json(app.request(Method::GET, "/v1/links", Some(secret), None).await).await;
        assert_eq!(status.as_u16(), 200, "{list}");
        assert!(list.as_array().unwrap().is_empty(), "a new organization has no links: {list}");
        // Now cached, the key still opens only its own organization's links.
        for _ in 0..2 {
            let (status, body) = into_json(app.request(Method::GET, &format!("/v1/accounts?link_token={token}"),
                Some(secret), None).await).await;
            assert_error(status, &body, 404, "invalid_link_token");
        }
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
