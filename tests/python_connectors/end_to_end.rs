//! Refresco with the fake bank's Python connector as its only connector, through the API: a
//! link (the bank asks for its SMS code), then the bank's data changes, then a refresh whose
//! SMS code is answered (once wrong); the movements come out new, modified and removed, in
//! the API and in signed webhooks.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::receiver::{verify, Receiver};
use crate::common::*;
use crate::python::{FakeBank, Venv, INSTITUTION, SMS_CODE, SMS_USER};
use crate::support::*;

const EVENTS: [&str; 4] = [
    "account.refresh_intent.succeeded",
    "account.refresh_intent.movements_modified",
    "account.refresh_intent.movements_removed",
    "link.refresh_intent.succeeded",
];

/// Every movement of the link's accounts, as the API lists them.
async fn listed(app: &TestApp, token: &str) -> Vec<Value> {
    let accounts = get_ok(app, &format!("/v1/accounts?link_token={token}")).await;
    let mut out = Vec::new();
    for account in accounts.as_array().unwrap() {
        let id = account["id"].as_str().unwrap();
        let path = format!("/v1/accounts/{id}/movements?link_token={token}&per_page=300");
        out.extend(get_ok(app, &path).await.as_array().unwrap().iter().cloned());
    }
    out
}

both_backends! {
    async fn a_link_and_a_refresh_through_the_fake_bank(app: TestApp) {
        if !Venv::Connectors.ready() {
            return;
        }
        let backend = app.backend;
        drop(app);
        let bank = FakeBank::start();
        let app = app_with(backend, bank.config()).await.unwrap();
        let institutions = get_ok(&app, "/v1/institutions").await;
        let listed_bank = institutions.as_array().unwrap().iter().find(|i| i["id"] == INSTITUTION);
        assert_eq!(listed_bank.map(|i| &i["source"]), Some(&json!("connector")), "{institutions}");

        let receiver = Receiver::start().await;
        let (status, endpoint) = call(&app, Method::POST, "/v1/webhook_endpoints", None,
            Some(json!({"url": receiver.url, "enabled_events": EVENTS}))).await;
        assert_eq!(status, StatusCode::CREATED, "{endpoint}");
        let secret = endpoint["secret"].as_str().unwrap().to_owned();

        let body = json!({"institution_id": INSTITUTION, "username": SMS_USER.0,
            "password": SMS_USER.1, "mfa_code": SMS_CODE});
        let (status, link) = call(&app, Method::POST, "/v1/links", None, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{link}");
        let token = link["link_token"].as_str().unwrap().to_owned();
        let accounts = link["accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 2, "{link}");
        assert_eq!(accounts[0]["holder_name"], "Bruno Soto", "{link}");
        // The movements come with the link's first history, fetched with the login's session:
        // the bank does not ask for its SMS code again.
        let history = app.first_history(&app.keys.secret_key, &token).await;
        assert_eq!(history["status"], "succeeded", "{history}");
        assert!(history["requires_mfa"].is_null(), "{history}");
        let before = listed(&app, &token).await;
        assert!(before.len() > 20, "the history came in: {}", before.len());

        // The bank changes: per account one new movement, the newest one edited, the one
        // after it removed.
        bank.control("mutate", json!({})).await;

        let intent = refresh(&app, &token).await;
        let id = intent["id"].as_str().unwrap();
        assert_eq!(intent["mfa_method"], "sms", "{intent}");
        wait_challenge(&app, intent["requires_mfa"]["widget_token"].as_str().unwrap()).await;
        let (status, body) = answer_mfa(&app, &token, id, "000000").await;
        assert_error(status, &body, 400, "invalid_mfa_code");
        let (status, body) = answer_mfa(&app, &token, id, SMS_CODE).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let done = wait_final(&app, &token, id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["new_movements"], json!(2), "one new movement per account: {done}");

        let after = listed(&app, &token).await;
        assert_eq!(after.len(), before.len(), "one new and one removed per account");
        assert_eq!(after.iter().filter(|m| m["description"] == "Abono nuevo 1").count(), 2);
        let edited: Vec<_> = after.iter()
            .filter(|m| m["description"].as_str().unwrap().ends_with("(corregido 1)"))
            .collect();
        assert_eq!(edited.len(), 2, "the edited movements keep their ids: {edited:?}");
        assert!(edited.iter().all(|m| before.iter().any(|b| b["id"] == m["id"])), "{edited:?}");

        // This refresh's events (the first history's came before them): per account its
        // outcome, one modified and one removed, then the link's. Deliveries to one endpoint
        // run concurrently and may arrive out of order (docs/webhooks.md), so wait for all.
        let ours = |e: &Value| e["data"]["id"] == id || e["data"]["refresh_intent_id"] == id;
        let expected = 3 * 2 + 1;
        let received = receiver
            .wait_for(|r| r.iter().filter(|d| ours(&d.json())).count() >= expected)
            .await;
        for delivery in &received {
            verify(delivery, &secret);
        }
        let of_type = |t: &str| -> Vec<Value> {
            received.iter().map(|d| d.json()).filter(|e| e["type"] == t && ours(e)).collect()
        };
        let succeeded = of_type("account.refresh_intent.succeeded");
        assert_eq!(succeeded.len(), 2);
        assert!(succeeded.iter().all(|e| e["data"]["new_movements"] == 1), "{succeeded:?}");
        let modified = of_type("account.refresh_intent.movements_modified");
        assert_eq!(modified.len(), 2, "{received:?}");
        for event in &modified {
            let changed = event["data"]["movements_changed"].as_array().unwrap();
            assert_eq!(changed.len(), 1, "{event}");
            assert!(changed[0]["description"].as_str().unwrap().ends_with("(corregido 1)"));
        }
        let removed = of_type("account.refresh_intent.movements_removed");
        assert_eq!(removed.len(), 2, "{received:?}");
        for event in &removed {
            let gone = &event["data"]["movements_removed"].as_array().unwrap()[0];
            assert!(before.iter().any(|b| b["id"] == gone["id"]), "{gone}");
            assert!(!after.iter().any(|a| a["id"] == gone["id"]), "{gone}");
        }

        let logs = bank.connector.logs();
        assert!(logs.contains("POST /mfa -> 200"), "{logs}");
        assert!(!logs.contains(SMS_USER.1), "the password is in the connector's logs");
    }
}
