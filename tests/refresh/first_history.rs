//! A new link's first history: creation lists the accounts, and a `historical` refresh intent,
//! made with the link, fetches the movements in the background with their events. And a link
//! that ends (deactivated or deleted) while a refresh is at the bank records nothing.

use std::time::{Duration, Instant};

use refresco::config::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

/// Every event of the default organization's test mode, oldest first.
async fn events_oldest_first(app: &TestApp) -> Vec<Value> {
    let (status, list) = app.get("/v1/events?per_page=300").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut list = list.as_array().unwrap().clone();
    list.reverse();
    list
}

both_backends_and_connector! {
    async fn a_new_link_gets_its_history_as_a_historical_refresh_intent(app: TestApp) {
        // No worker: what the creation leaves can be looked at before the history runs.
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.role = Role::Api).await.unwrap();
        let response = app.request(Method::POST, "/v1/links", Some(&app.keys.secret_key), Some(json!({
            "institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow"}))).await;
        let (status, link) = into_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{link}");
        let token = link["link_token"].as_str().unwrap().to_owned();
        // The answer has the accounts and their balances, and says the link is refreshing.
        let accounts = link["accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 3, "{link}");
        assert!(accounts.iter().all(|a| a["balance"]["current"].is_i64() && a["refresh_status"] == "refreshing"), "{link}");
        assert_eq!(link["refresh_status"], "refreshing");
        assert!(link["last_time_refreshed"].is_null(), "{link}");
        // No movement yet; one intent, the first history, waiting for a worker.
        let account = accounts[0]["id"].as_str().unwrap();
        let (_, movements) = app.get(&format!("/v1/accounts/{account}/movements?link_token={token}")).await;
        assert_eq!(movements, json!([]));
        let (_, intents) = app.get(&format!("/v1/refresh_intents?link_token={token}")).await;
        let intents = intents.as_array().unwrap();
        assert_eq!(intents.len(), 1, "{intents:?}");
        assert_eq!(intents[0]["type"], "historical");
        assert_eq!(intents[0]["status"], "created");
        assert!(intents[0]["requires_mfa"].is_null());
        // Only `link.created` so far, with the link as the API shows it, and no token.
        let events = events_oldest_first(&app).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["type"], "link.created");
        assert_eq!(events[0]["data"]["id"], link["id"]);
        assert!(events[0]["data"]["link_token"].is_null(), "a token is never stored readable");

        // The first history runs (here driven a step at a time, as a worker would).
        let history = app.first_history(&app.keys.secret_key, &token).await;
        assert_eq!(history["status"], "succeeded", "{history}");
        assert_eq!(history["id"], intents[0]["id"]);
        let fetched = all_movements(&app, &token).await;
        let total: usize = fetched.iter().map(|(_, m)| m.len()).sum();
        assert!(total > 100, "two years of history: {total}");
        assert_eq!(history["new_movements"], json!(total), "every movement is new to the link");
        let (_, now) = app.get(&format!("/v1/links/{token}")).await;
        assert_eq!(now["refresh_status"], "refreshed");
        assert!(now["last_time_refreshed"].is_string());
        assert!(now["accounts"].as_array().unwrap().iter().all(|a| a["refresh_status"] == "refreshed"), "{now}");

        // Its events: after `link.created`, one per account, of type historical, then the
        // link's, which says the history is complete.
        let events = events_oldest_first(&app).await;
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["link.created", "account.refresh_intent.succeeded", "account.refresh_intent.succeeded",
            "account.refresh_intent.succeeded", "link.refresh_intent.succeeded"]);
        assert!(events[1..4].iter().all(|e| e["data"]["type"] == "historical" && e["data"]["refresh_intent_id"] == history["id"]));
        assert_eq!(events[4]["data"]["id"], history["id"]);

        // The first history starts no cooldown: an on-demand refresh is accepted at once.
        let (status, body) = create(&app, json!({"link_token": token})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn a_bank_that_asked_for_a_second_factor_at_creation_is_not_asked_again(app: TestApp) {
        // The SMS code given at creation opened a session; the first history uses it.
        let (link, token) = app.create_link_with_mfa("jonsnow+mfa_sms", "123456").await;
        let history = app.first_history(&app.keys.secret_key, &token).await;
        assert_eq!(history["status"], "succeeded", "{history}");
        assert!(history["requires_mfa"].is_null() && history["mfa_method"].is_null(), "{history}");
        assert!(history["new_movements"].as_i64().unwrap() > 0);
        // The next refresh does ask: the bank remembers its second factor.
        let (status, intent) = create(&app, json!({"link_token": token})).await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        assert!(intent["requires_mfa"]["widget_token"].is_string(), "{intent} of {link}");
    }

    async fn a_link_deactivated_or_deleted_at_the_bank_records_nothing(app: TestApp) {
        for end in ["deactivated", "deleted"] {
            // Every bank call takes 300 ms: the link ends while the refresh is at the bank,
            // after the worker's check before it, so the recording's own check decides.
            let (_, token) = cl_link(&app, "jonsnow+changes+slow300ms").await;
            let before = all_movements(&app, &token).await;
            let intent = create_ok(&app, &token).await;
            let id = intent["id"].as_str().unwrap().to_owned();
            wait_until(&app, &token, &id, |i| !i["started_at"].is_null()).await;
            let (method, body) = match end {
                "deactivated" => (Method::PATCH, Some(json!({"active": false}))),
                _ => (Method::DELETE, None),
            };
            let response = app.request(method, &format!("/v1/links/{token}"), Some(&app.keys.secret_key), body).await;
            assert!(response.status().is_success(), "{end}: {}", response.status());
            let done = wait_ended(&app, &id).await;
            assert_eq!(done.status.as_str(), "failed", "{end}");
            assert_eq!(done.public_error.map(|e| e.as_str()), Some("retryable_error"), "{end}");
            assert_eq!(done.failure_reason.as_deref(), Some("link_inactive"), "{end}");
            assert_eq!(done.new_movements, 0, "{end}");
            if end == "deactivated" {
                // The bank's two new movements per account were not recorded.
                assert_eq!(all_movements(&app, &token).await, before, "{end}");
            }
            let events = events_oldest_first(&app).await;
            let of_intent: Vec<&str> = events.iter()
                .filter(|e| e["data"]["id"] == id.as_str() || e["data"]["refresh_intent_id"] == id.as_str())
                .map(|e| e["type"].as_str().unwrap()).collect();
            assert!(of_intent.iter().all(|t| !t.ends_with("succeeded")), "{end}: {of_intent:?}");
            assert_eq!(of_intent.last(), Some(&"link.refresh_intent.failed"), "{end}: {of_intent:?}");
        }
    }
}

/// The intent `id` once ended, read from the store (a deleted link's intents are not listed
/// through its token any more).
async fn wait_ended(app: &TestApp, id: &str) -> refresco::domain::RefreshIntent {
    let id = refresco::domain::RefreshIntentId::parse(id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let intent = app
            .state
            .store
            .refresh_intent_by_id(&id)
            .await
            .unwrap()
            .unwrap();
        if intent.status.as_str() != "created" {
            return intent;
        }
        assert!(Instant::now() < deadline, "the refresh never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
