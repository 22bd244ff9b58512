//! Every sandbox scenario: final status, public_error, new_movements, the movements stored,
//! and the link and account fields.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

/// Asserts the final state of a failed or rejected refresh.
async fn assert_failure(
    app: &TestApp,
    password: &str,
    status: &str,
    public_error: &str,
) -> (serde_json::Value, String) {
    let (_, token) = cl_link(app, password).await;
    let before = all_movements(app, &token).await;
    let intent = create_ok(app, &token).await;
    let id = intent["id"].as_str().unwrap();
    let done = wait_final(app, &token, id).await;
    assert_eq!(done["status"], status, "{done}");
    assert_eq!(done["public_error"], public_error, "{done}");
    assert_eq!(done["new_movements"], 0);
    assert!(done["finished_at"].is_string());
    assert_eq!(
        all_movements(app, &token)
            .await
            .iter()
            .map(|(_, m)| m.len())
            .collect::<Vec<_>>(),
        before.iter().map(|(_, m)| m.len()).collect::<Vec<_>>(),
        "no movement changed"
    );
    for (_, account_status, error, new, _, _) in results(app, id).await {
        assert_eq!(
            account_status, status,
            "one result per account with the intent's outcome"
        );
        assert_eq!(error.as_deref(), Some(public_error));
        assert_eq!(new, 0);
    }
    (done, token)
}

both_backends_and_connector! {
    async fn success_with_new_modified_and_removed_movements(app: TestApp) {
        let (link, token) = cl_link(&app, "jonsnow+changes").await;
        let accounts = link["accounts"].as_array().unwrap().len();
        let before = all_movements(&app, &token).await;
        let intent = create_ok(&app, &token).await;
        assert!(intent["requires_mfa"].is_null());
        assert_eq!(intent["object"], "refresh_intent");
        assert_eq!(intent["refreshed_object"], "link");
        assert_eq!(intent["refreshed_object_id"], link["id"]);
        assert_eq!(intent["type"], "only_last");
        assert!(intent["public_error"].is_null());
        let id = intent["id"].as_str().unwrap();
        assert!(id.starts_with("ri_"));

        let done = wait_final(&app, &token, id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert!(done["public_error"].is_null());
        assert_eq!(done["new_movements"], json!(2 * accounts), "2 new per account");
        let per_account = results(&app, id).await;
        assert_eq!(per_account.len(), accounts);
        for (_, status, error, new, modified, removed) in &per_account {
            assert_eq!((status.as_str(), error, *new, *modified, *removed), ("succeeded", &None, 2, 1, 1));
        }
        // Stored movements: +2 new −1 removed per account; the removed one is gone, the
        // modified one kept its id.
        let after = all_movements(&app, &token).await;
        for ((_, old), (_, new)) in before.iter().zip(&after) {
            assert_eq!(new.len(), old.len() + 1);
            let old_ids: HashSet<_> = old.iter().map(|m| m["id"].as_str().unwrap()).collect();
            let new_ids: HashSet<_> = new.iter().map(|m| m["id"].as_str().unwrap()).collect();
            assert_eq!(old_ids.difference(&new_ids).count(), 1, "one removed");
            assert_eq!(new_ids.difference(&old_ids).count(), 2, "two new");
            let changed = old.iter().filter(|m| {
                new.iter().any(|n| n["id"] == m["id"] && n != *m)
            }).count();
            assert_eq!(changed, 1, "one modified in place");
        }
        // Link and account fields.
        let (_, got) = app.get(&format!("/v1/links/{token}")).await;
        assert_eq!(got["refresh_status"], "refreshed");
        assert_eq!(got["status"], "active");
        assert!(got["last_time_refreshed"].as_str().unwrap() >= done["created_at"].as_str().unwrap());
        for account in got["accounts"].as_array().unwrap() {
            assert_eq!(account["refresh_status"], "refreshed");
            assert!(account["refreshed_at"].as_str().unwrap() >= done["created_at"].as_str().unwrap());
            assert!(account["next_refresh"].as_str().unwrap() > account["refreshed_at"].as_str().unwrap());
        }
    }

    async fn invalid_credentials_reject_and_require_reconnection(app: TestApp) {
        let (_, token) = assert_failure(&app, "jonsnow+invalid@1", "rejected", "invalid_credentials_error").await;
        let (_, link) = app.get(&format!("/v1/links/{token}")).await;
        assert_eq!(link["status"], "login_required");
        assert_eq!(link["refresh_status"], "interrupted");
        assert!(link["accounts"].as_array().unwrap().iter().all(|a| a["refresh_status"] == "interrupted"));
        let (status, body) = create(&app, json!({"link_token": token})).await;
        assert_error(status, &body, 422, "rejected_refresh_intent");
        assert_eq!(body["error"]["type"], "link_error");
    }

    async fn locked_unavailable_and_support(app: TestApp) {
        assert_failure(&app, "jonsnow+locked@1", "rejected", "credentials_locked_error").await;
        let (_, token) = assert_failure(&app, "jonsnow+unavailable@1", "failed", "retryable_error").await;
        // A failed refresh may be retried at once (no cooldown).
        let (status, _) = create(&app, json!({"link_token": token})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, link) = app.get(&format!("/v1/links/{token}")).await;
        assert_eq!(link["status"], "active", "a bank outage does not touch credentials");
        assert_failure(&app, "jonsnow+support@1", "failed", "support_required_error").await;
    }

    async fn one_account_failing_fails_the_link_level_intent(app: TestApp) {
        let (link, token) = cl_link(&app, "jonsnow+fail_account@1+changes").await;
        let intent = create_ok(&app, &token).await;
        let id = intent["id"].as_str().unwrap();
        let done = wait_final(&app, &token, id).await;
        assert_eq!(done["status"], "failed");
        assert_eq!(done["public_error"], "retryable_error");
        let per_account = results(&app, id).await;
        assert_eq!(per_account.len(), link["accounts"].as_array().unwrap().len());
        let failed: Vec<_> = per_account.iter().filter(|r| r.1 == "failed").collect();
        let ok: Vec<_> = per_account.iter().filter(|r| r.1 == "succeeded").collect();
        assert_eq!(failed.len(), 1, "{per_account:?}");
        assert_eq!(ok.len(), per_account.len() - 1);
        assert!(ok.iter().all(|r| r.3 == 2), "the others still got their new movements");
        assert_eq!(done["new_movements"], json!(2 * ok.len()));
        let (_, accounts) = app.get(&format!("/v1/accounts?link_token={token}")).await;
        let statuses: Vec<_> = accounts.as_array().unwrap().iter().map(|a| a["refresh_status"].as_str().unwrap().to_owned()).collect();
        assert_eq!(statuses.iter().filter(|s| *s == "failed").count(), 1, "{statuses:?}");
    }

    async fn slow_bank_past_the_deadline_fails_retryable(app: TestApp) {
        // A one-second deadline; the bank takes a second per call, so the refresh cannot make
        // it (the deadline counts from creation, the login starts after it).
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.refresh_timeout_secs = 1).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow+instant+slow1s").await;
        let intent = create_ok(&app, &token).await;
        let done = wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed");
        assert_eq!(done["public_error"], "retryable_error");
        assert_eq!(done["failure_reason"], "deadline_exceeded");
    }

    async fn historical_reads_the_long_history(app: TestApp) {
        let (_, token) = cl_link(&app, "jonsnow+long_history").await;
        let (status, intent) = create(&app, json!({"link_token": token, "refresh_type": "historical"})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(intent["type"], "historical");
        let done = wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded");
        let accounts = all_movements(&app, &token).await;
        // Hundreds per account, stored in several multi-row statements when the link was
        // created: every one arrived once, so this refresh found nothing new.
        let stored: usize = accounts.iter().map(|(_, m)| m.len()).sum();
        assert_eq!(done["new_movements"], 0, "{done}");
        assert!(accounts.iter().all(|(_, m)| m.len() > 300), "more than one insert's worth each");
        let ids: std::collections::HashSet<&str> = accounts.iter()
            .flat_map(|(_, m)| m.iter().map(|m| m["id"].as_str().unwrap())).collect();
        assert_eq!(ids.len(), stored, "no movement listed twice");
        let oldest = accounts.iter().flat_map(|(_, m)| m.iter())
            .map(|m| m["post_date"].as_str().unwrap().to_owned()).min().unwrap();
        let cutoff = (chrono::Utc::now() - chrono::Duration::days(540)).format("%Y-%m-%d").to_string();
        assert!(oldest < cutoff, "history reaches back more than 18 months: {oldest}");
    }

    async fn mexican_bank_always_asks_for_a_second_factor(app: TestApp) {
        let (link, token) = link(&app, "mx_banco_sandbox", "SAND800101AB1", "jonsnow").await;
        assert_eq!(link["institution"]["country"], "mx");
        assert_eq!(link["accounts"][0]["currency"], "MXN");
        let intent = create_ok(&app, &token).await;
        let widget_token = intent["requires_mfa"]["widget_token"].as_str().expect("requires_mfa");
        assert!(widget_token.starts_with(&format!("{}_sec_", intent["id"].as_str().unwrap())));
        wait_challenge(&app, widget_token).await;
        let id = intent["id"].as_str().unwrap();
        let response = app.request(reqwest::Method::POST, &format!("/v1/refresh_intents/{id}/mfa?link_token={token}"),
            Some(&app.keys.secret_key), Some(json!({"code": "123456"}))).await;
        assert_eq!(response.status(), StatusCode::OK);
        let done = wait_final(&app, &token, id).await;
        assert_eq!(done["status"], "succeeded");
        assert!(done["requires_mfa"].is_null(), "no MFA pending once answered");
    }
}

mod reconnect {
    use reqwest::{Method, StatusCode};
    use serde_json::json;

    use super::super::support::*;
    use crate::both_backends_and_connector;
    use crate::common::*;

    both_backends_and_connector! {
        async fn a_rejected_link_refreshes_again_after_reconnecting(app: TestApp) {
            let (_, token) = cl_link(&app, "jonsnow+invalid@1").await;
            let intent = create_ok(&app, &token).await;
            assert_eq!(wait_final(&app, &token, intent["id"].as_str().unwrap()).await["status"], "rejected");
            assert_error_code(&app, &token, "rejected_refresh_intent").await;

            // Wrong new credentials are refused and change nothing.
            let path = format!("/v1/links/{token}");
            let patch = |body| app.request(Method::PATCH, &path, Some(&app.keys.secret_key), Some(body));
            let (status, body) = into_json(patch(json!({"password": "wrong"})).await).await;
            assert_error(status, &body, 406, "institution_credentials_invalid");
            assert_error_code(&app, &token, "rejected_refresh_intent").await;

            let (status, link) = into_json(patch(json!({"password": "jonsnow"})).await).await;
            assert_eq!(status, StatusCode::OK, "{link}");
            assert_eq!(link["status"], "active");
            let intent = create_ok(&app, &token).await;
            assert_eq!(wait_final(&app, &token, intent["id"].as_str().unwrap()).await["status"], "succeeded");
        }
    }

    mod live {
        use reqwest::{Method, StatusCode};
        use serde_json::json;

        use super::super::super::support::*;
        use crate::both_backends;
        use crate::common::*;

        both_backends! {
            async fn a_live_link_is_reconnected_in_place(app: TestApp) {
                // A live link: a test link of the organization moved to live mode in the database
                // (live links are otherwise made by a person in the widget).
                let (link, token) = cl_link(&app, "jonsnow+invalid@1").await;
                let id = link["id"].as_str().unwrap();
                crate::common::database::execute(&app, &format!("UPDATE links SET mode = 'live' WHERE id = '{id}'")).await;
                let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
                let key = Some(live.secret_key.as_str());
                let (status, intent) = into_json(app.request(Method::POST, "/v1/refresh_intents", key,
                    Some(json!({"link_token": token}))).await).await;
                assert_eq!(status, StatusCode::CREATED, "{intent}");
                let ended = wait_until_as(&app, &live.secret_key, &token, intent["id"].as_str().unwrap(),
                    |i| i["status"] != "created").await;
                assert_eq!(ended["status"], "rejected", "{ended}");

                let path = format!("/v1/links/{token}");
                let (status, reconnected) = into_json(app.request(Method::PATCH, &path, key,
                    Some(json!({"password": "jonsnow"}))).await).await;
                assert_eq!(status, StatusCode::OK, "{reconnected}");
                assert_eq!((reconnected["id"].as_str(), reconnected["status"].as_str(), reconnected["mode"].as_str()),
                    (Some(id), Some("active"), Some("live")));
                let (status, intent) = into_json(app.request(Method::POST, "/v1/refresh_intents", key,
                    Some(json!({"link_token": token}))).await).await;
                assert_eq!(status, StatusCode::CREATED, "{intent}");
                let ended = wait_until_as(&app, &live.secret_key, &token, intent["id"].as_str().unwrap(),
                    |i| i["status"] != "created").await;
                assert_eq!(ended["status"], "succeeded", "{ended}");
                // The same accounts, by id.
                let (_, accounts) = into_json(app.request(Method::GET, &format!("/v1/accounts?link_token={token}"), key, None).await).await;
                let ids = |list: &serde_json::Value| list.as_array().unwrap().iter().map(|a| a["id"].clone()).collect::<Vec<_>>();
                assert_eq!(ids(&accounts), ids(&link["accounts"]));
            }
        }
    }

    async fn assert_error_code(app: &TestApp, token: &str, code: &str) {
        let (status, body) = create(app, json!({"link_token": token})).await;
        assert_error(status, &body, 422, code);
    }
}
