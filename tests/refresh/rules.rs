//! Rules on create: one in progress per link (under a race), cooldown (by the last success's
//! kind), retry after failure,
//! inactive links, bad input; forced outcomes; get and list.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

both_backends_and_connector! {
    async fn fifty_concurrent_creates_make_exactly_one_intent(app: TestApp) {
        let (_, token) = cl_link(&app, "jonsnow+slow200ms").await;
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let app = app.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move { create(&app, json!({"link_token": token})).await }));
        }
        let mut created = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status.as_u16() {
                201 => created += 1,
                _ => assert_error(status, &body, 422, "refresh_intent_in_progress"),
            }
        }
        assert_eq!(created, 1);
        let (_, list) = app.get(&format!("/v1/refresh_intents?link_token={token}")).await;
        // The link's first history, and the one refresh.
        assert_eq!(list.as_array().unwrap().len(), 2, "exactly one intent was created: {list}");
    }

    async fn a_herd_of_creates_gets_only_the_answers_the_rules_allow(app: TestApp) {
        // Refreshes that end at once, so creates keep meeting intents that have just ended.
        // After failures (refresh 1 on is unavailable), with the default cooldowns: a failure
        // starts no cooldown, so every refusal must be "in progress".
        let backend = app.backend;
        let (_, failing) = cl_link(&app, "jonsnow+instant+unavailable@1").await;
        let app = std::sync::Arc::new(app);
        let created = herd(&app, &failing, 40, 15).await;
        assert!(created >= 2, "creates kept succeeding as intents failed: {created}");
        drop(app);
        // After successes with no cooldown configured: again only "in progress", never a 429.
        let app = TestApp::start_with(backend, |c| c.cooldown_only_last_secs = 0).await.unwrap();
        let (_, succeeding) = cl_link(&app, "jonsnow+instant").await;
        let app = std::sync::Arc::new(app);
        let created = herd(&app, &succeeding, 40, 15).await;
        assert!(created >= 2, "creates kept succeeding as intents succeeded: {created}");
    }

    async fn a_parameter_in_the_query_and_the_body_must_agree(app: TestApp) {
        let (_, token) = cl_link(&app, "jonsnow").await;
        let (_, other) = cl_link(&app, "jonsnow").await;
        let key = app.keys.secret_key.clone();
        let (status, body) = into_json(app.request(Method::POST,
            &format!("/v1/refresh_intents?link_token={token}"), Some(&key),
            Some(json!({"link_token": other}))).await).await;
        assert_error(status, &body, 400, "invalid_params");
        assert_eq!(body["error"]["param"], "link_token");
        let (status, body) = into_json(app.request(Method::POST,
            &format!("/v1/refresh_intents?link_token={token}&refresh_type=historical"), Some(&key),
            Some(json!({"refresh_type": "only_last"}))).await).await;
        assert_error(status, &body, 400, "invalid_params");
        assert_eq!(body["error"]["param"], "refresh_type");
        for link in [&token, &other] {
            let (_, list) = app.get(&format!("/v1/refresh_intents?link_token={link}")).await;
            assert_eq!(list.as_array().unwrap().len(), 1, "only the first history: {list}");
        }
        // The same value in both places is one value.
        let (status, body) = into_json(app.request(Method::POST,
            &format!("/v1/refresh_intents?link_token={token}"), Some(&key),
            Some(json!({"link_token": token}))).await).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn cooldown_after_success_and_retry_after_failure(app: TestApp) {
        let (_, token) = cl_link(&app, "jonsnow").await;
        // The sandbox bank answers at once: until the recording is let through, the first
        // refresh is surely still in progress when the second create arrives.
        let held = app.state.store.hold_recordings().await.unwrap();
        let first = create_ok(&app, &token).await;
        let (status, body) = create(&app, json!({"link_token": token})).await;
        assert_error(status, &body, 422, "refresh_intent_in_progress");
        drop(held);
        assert_eq!(wait_final(&app, &token, first["id"].as_str().unwrap()).await["status"], "succeeded");
        let (status, body) = create(&app, json!({"link_token": token})).await;
        assert_error(status, &body, 429, "rate_limit_exceeded");
        let next = body["error"]["next_refresh_at"].as_str().unwrap();
        assert!(next > first["created_at"].as_str().unwrap());
        let retry_after = body["error"]["retry_after_seconds"].as_i64().unwrap();
        assert!(retry_after > 200, "about 5 minutes: {body}");
        let response = app.request(Method::POST, "/v1/refresh_intents", Some(&app.keys.secret_key),
            Some(json!({"link_token": token}))).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let header: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((retry_after - 2..=retry_after).contains(&header), "{header} against {retry_after}");
        // A forced test outcome never reaches the bank: the cooldown does not hold it back.
        let (status, forced) = create(&app, json!({"link_token": token, "result_status": "succeeded"})).await;
        assert_eq!(status, StatusCode::CREATED, "{forced}");
        let done = wait_final(&app, &token, forced["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded");
        let (status, body) = create(&app, json!({"link_token": token})).await;
        assert_error(status, &body, 429, "rate_limit_exceeded");

        // A failed (forced) refresh neither blocks nor starts a cooldown.
        let (_, other) = cl_link(&app, "jonsnow").await;
        let (status, failed) = create(&app, json!({"link_token": other, "result_status": "failed"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let done = wait_final(&app, &other, failed["id"].as_str().unwrap()).await;
        assert_eq!((done["status"].as_str(), done["public_error"].as_str()), (Some("failed"), Some("retryable_error")));
        assert_eq!(create(&app, json!({"link_token": other})).await.0, StatusCode::CREATED);
    }

    async fn configured_cooldown_is_honoured(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.cooldown_only_last_secs = 0).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow").await;
        let first = create_ok(&app, &token).await;
        wait_final(&app, &token, first["id"].as_str().unwrap()).await;
        assert_eq!(create(&app, json!({"link_token": token})).await.0, StatusCode::CREATED, "no cooldown configured");
    }

    async fn the_cooldown_is_the_last_success_kinds(app: TestApp) {
        // No cooldown after `only_last`, the default hour after `historical`: which one
        // applies depends on the kind of the last success, not of the new create.
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.cooldown_only_last_secs = 0).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow").await;
        let (status, historical) = create(&app, json!({"link_token": token, "refresh_type": "historical"})).await;
        assert_eq!(status, StatusCode::CREATED, "{historical}");
        assert_eq!(wait_final(&app, &token, historical["id"].as_str().unwrap()).await["status"], "succeeded");
        for kind in ["only_last", "historical"] {
            let (status, body) = create(&app, json!({"link_token": token, "refresh_type": kind})).await;
            assert_error(status, &body, 429, "rate_limit_exceeded");
            assert!(body["error"]["retry_after_seconds"].as_i64().unwrap() > 3000, "about an hour: {body}");
        }

        let (_, other) = cl_link(&app, "jonsnow").await;
        let first = create_ok(&app, &other).await;
        wait_final(&app, &other, first["id"].as_str().unwrap()).await;
        let (status, body) = create(&app, json!({"link_token": other, "refresh_type": "historical"})).await;
        assert_eq!(status, StatusCode::CREATED, "an only_last success leaves no cooldown: {body}");
    }

    async fn forced_outcomes_in_test_mode(app: TestApp) {
        for (forced, error) in [("succeeded", None), ("failed", Some("retryable_error")), ("rejected", Some("invalid_credentials_error"))] {
            let (_, token) = cl_link(&app, "jonsnow+mfa_sms").await;
            // Query-string form, as link-scoped clients send it.
            let response = app.request(Method::POST, &format!("/v1/refresh_intents?link_token={token}&result_status={forced}"),
                Some(&app.keys.secret_key), None).await;
            let (status, intent) = into_json(response).await;
            assert_eq!(status, StatusCode::CREATED, "{intent}");
            assert!(intent["requires_mfa"].is_null(), "forced outcomes skip the bank and its MFA");
            let done = wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
            assert_eq!(done["status"], forced);
            assert_eq!(done["public_error"].as_str(), error);
            let (_, link) = app.get(&format!("/v1/links/{token}")).await;
            assert_eq!(link["status"], "active", "forced outcomes never touch credentials");
        }
    }

    async fn inactive_deleted_foreign_and_invalid(app: TestApp) {
        let (link, token) = cl_link(&app, "jonsnow").await;
        let (status, body) = create(&app, json!({"link_token": token, "refresh_type": "everything"})).await;
        assert_error(status, &body, 400, "invalid_refresh_type");
        let (status, body) = create(&app, json!({"link_token": token, "result_status": "maybe"})).await;
        assert_error(status, &body, 400, "invalid_enum");
        let (status, body) = create(&app, json!({})).await;
        assert_error(status, &body, 400, "missing_parameter");
        let (status, body) = create(&app, json!({"link_token": "link_nope_token_AAAAAAAAAAAAAAAAAAAAAAAA"})).await;
        assert_error(status, &body, 404, "invalid_link_token");
        let other = app.key_pair("globex", refresco::domain::Mode::Test).await;
        let (status, body) = into_json(app.request(Method::POST, "/v1/refresh_intents", Some(&other.secret_key),
            Some(json!({"link_token": token}))).await).await;
        assert_error(status, &body, 404, "invalid_link_token");
        // The link's id with another secret, and the right token with the same organization's
        // live key.
        let forged = format!("{}_token_AAAAAAAAAAAAAAAAAAAAAAAA", link["id"].as_str().unwrap());
        let (status, body) = create(&app, json!({"link_token": forged})).await;
        assert_error(status, &body, 404, "invalid_link_token");
        let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
        let (status, body) = into_json(app.request(Method::POST, "/v1/refresh_intents", Some(&live.secret_key),
            Some(json!({"link_token": token}))).await).await;
        assert_error(status, &body, 404, "invalid_link_token");
        let (_, intents) = app.get(&format!("/v1/refresh_intents?link_token={token}")).await;
        assert_eq!(intents.as_array().unwrap().len(), 1, "none of these created anything: {intents}");

        app.request(Method::PATCH, &format!("/v1/links/{token}"), Some(&app.keys.secret_key), Some(json!({"active": false}))).await;
        let (status, body) = create(&app, json!({"link_token": token})).await;
        assert_error(status, &body, 400, "invalid_on_demand_link");
        let id = link["id"].as_str().unwrap();
        app.request(Method::DELETE, &format!("/v1/links/{id}"), Some(&app.keys.secret_key), None).await;
        let (status, body) = create(&app, json!({"link_token": token})).await;
        assert_error(status, &body, 404, "invalid_link_token");
    }

    async fn get_and_list_newest_first(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.cooldown_only_last_secs = 0).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow").await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            let intent = create_ok(&app, &token).await;
            let id = intent["id"].as_str().unwrap().to_owned();
            wait_final(&app, &token, &id).await;
            ids.push(id);
        }
        ids.reverse();
        let (status, page) = app.get(&format!("/v1/refresh_intents?link_token={token}&per_page=2")).await;
        assert_eq!(status, StatusCode::OK);
        let got: Vec<_> = page.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(got, ids[..2]);
        let (_, page2) = app.get(&format!("/v1/refresh_intents?link_token={token}&per_page=2&page=2")).await;
        assert_eq!(page2[0]["id"], ids[2].as_str());
        // Another link's intents are not reachable through this token.
        let (_, other) = cl_link(&app, "jonsnow").await;
        let (status, body) = app.get(&format!("/v1/refresh_intents/{}?link_token={other}", ids[0])).await;
        assert_error(status, &body, 404, "missing_resource");
    }
}

/// `clients` clients each send `rounds` creates for the link of `token`, all at once; every
/// answer must be a 201 or a 422 `refresh_intent_in_progress`. Returns how many were created.
async fn herd(app: &std::sync::Arc<TestApp>, token: &str, clients: usize, rounds: usize) -> usize {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (app, token) = (app.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut created = 0;
            for _ in 0..rounds {
                let (status, body) = create(&app, json!({"link_token": token})).await;
                match status.as_u16() {
                    201 => created += 1,
                    _ => assert_error(status, &body, 422, "refresh_intent_in_progress"),
                }
            }
            created
        }));
    }
    let mut created = 0;
    for task in tasks {
        created += task.await.unwrap();
    }
    created
}
