//! Error classes: every connector error belongs to the person, to passing trouble, or to the
//! connector, and the class decides how a refresh ends, what its events say and whether the
//! link needs its person. A code Refresco does not know is handled by the class the connector
//! gives it (the sandbox's `+unknown_<class>` sends one), in process and over the protocol.

use serde_json::{json, Value};

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

/// A link whose bank fails with `modifier` from refresh 1 on: its refresh's final state, and
/// the link as it is then.
async fn refresh_failing_with(app: &TestApp, modifier: &str) -> (Value, Value) {
    let (_, token) = cl_link(app, &format!("jonsnow+{modifier}@1")).await;
    let intent = create_ok(app, &token).await;
    let done = wait_final(app, &token, intent["id"].as_str().unwrap()).await;
    let (_, link) = app.get(&format!("/v1/links/{token}")).await;
    (done, link)
}

/// The link-level event of the intent `done`.
async fn link_event(app: &TestApp, done: &Value) -> Value {
    let kind = format!("link.refresh_intent.{}", done["status"].as_str().unwrap());
    let (_, events) = app
        .get(&format!("/v1/events?type={kind}&per_page=300"))
        .await;
    events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["id"] == done["id"])
        .unwrap_or_else(|| panic!("no {kind} event for {done}"))
        .clone()
}

both_backends_and_connector! {
    async fn each_class_decides_the_outcome_the_events_and_the_link(app: TestApp) {
        // modifier, status, public_error, failure_reason, whether the link needs its person
        let cases = [
            ("password_expired", "rejected", "invalid_credentials_error", "password_expired", true),
            ("action_needed", "rejected", "credentials_locked_error", "action_needed", true),
            ("rate_limited", "failed", "retryable_error", "institution_rate_limited", false),
            ("unknown_person", "rejected", "invalid_credentials_error", "holder_action_required", true),
            ("unknown_transient", "failed", "retryable_error", "institution_unavailable", false),
            ("unknown_connector", "failed", "support_required_error", "connector_error", false),
        ];
        for (modifier, status, public_error, reason, needs_person) in cases {
            let (done, link) = refresh_failing_with(&app, modifier).await;
            assert_eq!(done["status"], status, "{modifier}: {done}");
            assert_eq!(done["public_error"], public_error, "{modifier}: {done}");
            assert_eq!(done["failure_reason"], reason, "{modifier}: {done}");
            let expected_status = if needs_person { "login_required" } else { "active" };
            assert_eq!(link["status"], expected_status, "{modifier}: {link}");
            let event = link_event(&app, &done).await;
            assert_eq!(event["data"]["public_error"], public_error, "{modifier}: {event}");
            assert_eq!(event["data"]["failure_reason"], reason, "{modifier}: {event}");
        }
    }

    async fn a_class_at_link_creation_gets_its_own_answer(app: TestApp) {
        // modifier at login, status, error type, code
        let cases = [
            ("password_expired", 406, "link_error", "password_expired"),
            ("action_needed", 406, "link_error", "action_needed"),
            ("rate_limited", 503, "institution_error", "unavailable_institution"),
            ("unknown_person", 406, "link_error", "holder_action_required"),
            ("unknown_transient", 503, "institution_error", "unavailable_institution"),
            ("unknown_connector", 503, "institution_error", "support_required"),
        ];
        for (modifier, status, kind, code) in cases {
            let response = app.request(reqwest::Method::POST, "/v1/links", Some(&app.keys.secret_key),
                Some(json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3",
                            "password": format!("jonsnow+{modifier}")}))).await;
            let (got, body) = into_json(response).await;
            assert_eq!(got.as_u16(), status, "{modifier}: {body}");
            assert_eq!(body["error"]["type"], kind, "{modifier}: {body}");
            assert_eq!(body["error"]["code"], code, "{modifier}: {body}");
        }
    }
}
