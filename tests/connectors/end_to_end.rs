//! End to end through a connector process: the real `refresco connector serve-sandbox`, and
//! Refresco with the built-in banks off and that process as its only connector. A Chilean link,
//! a refresh whose bank asks for an SMS code, the code, new movements on the accounts, and a
//! signed webhook at a receiver.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::*;
use crate::both_backends;
use crate::common::connector::ConnectorProcess;
use crate::common::receiver::{verify, Receiver};
use crate::common::*;

both_backends! {
    async fn a_refresh_with_a_second_factor_through_a_connector_process(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let connector = ConnectorProcess::spawn(50);
        let app = app_with(backend, connector.config()).await.unwrap();
        let listed = get_ok(&app, "/v1/institutions").await;
        assert!(listed.as_array().unwrap().iter().all(|i| i["source"] == "connector"), "{listed}");

        let receiver = Receiver::start().await;
        let (status, endpoint) = call(&app, Method::POST, "/v1/webhook_endpoints", None,
            Some(json!({"url": receiver.url, "enabled_events": ["link.refresh_intent.succeeded"]}))).await;
        assert_eq!(status, StatusCode::CREATED, "{endpoint}");
        let secret = endpoint["secret"].as_str().unwrap().to_owned();

        // `+mfa_sms`: the bank asks for a code on every login; `+changes`: each refresh brings
        // two new movements per account (docs/sandbox.md).
        let (link, token) = cl_link(&app, "jonsnow+mfa_sms+changes").await;
        assert_eq!(link["institution"]["id"], "cl_banco_sandbox");
        let accounts = link["accounts"].as_array().unwrap().len();
        let before = movements(&app, &token).await;

        let intent = refresh(&app, &token).await;
        let id = intent["id"].as_str().unwrap();
        assert_eq!(intent["mfa_method"], "sms", "{intent}");
        wait_challenge(&app, intent["requires_mfa"]["widget_token"].as_str().unwrap()).await;
        let (status, body) = answer_mfa(&app, &token, id, "000000").await;
        assert_error(status, &body, 400, "invalid_mfa_code");
        let (status, body) = answer_mfa(&app, &token, id, "123456").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let done = wait_final(&app, &token, id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["new_movements"], json!(2 * accounts), "{done}");

        // Two new and one removed on every account; the new ones are listed.
        let after = movements(&app, &token).await;
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(new.len(), old.len() + 1);
            assert_eq!(new.iter().filter(|m| !old.contains(m)).count(), 3, "2 new, 1 modified");
        }

        // The first history's event came first; then this refresh's.
        let received = receiver.wait_for(|r| r.iter().any(|d| d.json()["data"]["id"] == id)).await;
        let delivery = received.iter().find(|d| d.json()["data"]["id"] == id).unwrap();
        assert_eq!(delivery.json()["type"], "link.refresh_intent.succeeded");
        verify(delivery, &secret);

        assert!(connector.close_stdin_and_wait(), "--exit-with-stdin: stops cleanly at EOF");
    }
}
