//! Every event type a refresh produces, with the right `data`, delivered and signed.

use std::collections::HashMap;

use serde_json::Value;

use super::support::*;
use crate::both_backends;
use crate::common::receiver::{verify, Received};
use crate::common::*;

/// Groups deliveries by event type (each event once), for the events of the refresh intent `id` (and the link events no intent
/// names), leaving out the link's creation and first history.
fn by_type_for(received: &[Received], id: &Value) -> HashMap<String, Vec<Value>> {
    by_type_of(received, |event| {
        let data = &event["data"];
        data["refresh_intent_id"] == *id
            || data["id"] == *id
            || event["type"] == "link.credentials_changed"
    })
}

fn by_type_of(received: &[Received], keep: impl Fn(&Value) -> bool) -> HashMap<String, Vec<Value>> {
    let mut seen = std::collections::HashSet::new();
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    for delivery in received {
        let event = delivery.json();
        if keep(&event) && seen.insert(event["id"].as_str().unwrap().to_owned()) {
            out.entry(event["type"].as_str().unwrap().to_owned())
                .or_default()
                .push(event);
        }
    }
    out
}

both_backends! {
    async fn a_successful_refresh_emits_account_and_link_events(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |_| {}).await;
        let (receiver, _, secret) = receiver_endpoint(&app).await;
        let (link, _, intent) = refreshed_link(&app, "jonsnow+changes").await;
        let accounts = link["accounts"].as_array().unwrap().len();
        // Per account: succeeded, modified, removed; then the link-level event.
        let id = &intent["id"];
        let received = receiver.wait_for(|r| by_type_for(r, id).values().map(Vec::len).sum::<usize>() > 3 * accounts).await;
        for delivery in &received {
            verify(delivery, &secret);
            assert_eq!(delivery.headers["content-type"], "application/json");
        }
        let events = by_type_for(&received, id);
        let succeeded = &events["account.refresh_intent.succeeded"];
        assert_eq!(succeeded.len(), accounts, "one per account");
        for event in succeeded {
            assert_eq!(event["object"], "event");
            assert_eq!(event["mode"], "test");
            let data = &event["data"];
            assert_eq!(data["object"], "refresh_intent");
            assert_eq!(data["refreshed_object"], "account");
            assert!(data["refreshed_object_id"].as_str().unwrap().starts_with("acc_"));
            assert_eq!(data["status"], "succeeded");
            assert!(data["public_error"].is_null());
            assert_eq!(data["type"], "only_last");
            assert_eq!(data["new_movements"], 2);
            assert_eq!(data["refresh_intent_id"], intent["id"], "our addition: the link-level intent");
        }
        for (kind, key) in [("movements_modified", "movements_changed"), ("movements_removed", "movements_removed")] {
            let list = &events[&format!("account.refresh_intent.{kind}")];
            assert_eq!(list.len(), accounts);
            for event in list {
                let movements = event["data"][key].as_array().unwrap();
                assert_eq!(movements.len(), 1, "{event}");
                assert!(movements[0]["id"].as_str().unwrap().starts_with("mov_"));
                assert!(event["data"]["account_id"].as_str().unwrap().starts_with("acc_"));
            }
        }
        let link_level = &events["link.refresh_intent.succeeded"];
        assert_eq!(link_level.len(), 1);
        assert_eq!(link_level[0]["data"]["id"], intent["id"]);
        assert_eq!(link_level[0]["data"]["new_movements"], intent["new_movements"]);
        assert!(!events.contains_key("link.credentials_changed"));

        // The events API shows the same events, filterable by type and link: this refresh's,
        // after the link's `link.created` and its first history's (one per account and the
        // link's).
        let (_, list) = app.get(&format!("/v1/events?link_id={}&per_page=300", link["id"].as_str().unwrap())).await;
        assert_eq!(list.as_array().unwrap().len(), 3 * accounts + 1 + 1 + accounts + 1);
        let ours = list.as_array().unwrap().iter()
            .filter(|e| e["data"]["refresh_intent_id"] == *id || e["data"]["id"] == *id).count();
        assert_eq!(ours, 3 * accounts + 1);
        let (_, only) = app.get("/v1/events?type=link.refresh_intent.succeeded").await;
        assert_eq!(only.as_array().unwrap().len(), 2, "the first history's and this one's");
        assert_eq!(only[0]["data"]["id"], intent["id"], "newest first");
        let id = only[0]["id"].as_str().unwrap();
        let (_, one) = app.get(&format!("/v1/events/{id}")).await;
        assert_eq!(one, only[0]);
        // The delivered bytes are the event exactly as the API shows it.
        let delivered = received.iter().find(|d| d.json()["id"] == id).unwrap();
        assert_eq!(delivered.json(), one);
    }

    async fn rejected_and_failed_refreshes_emit_their_events(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |_| {}).await;
        let (receiver, _, _) = receiver_endpoint(&app).await;
        let (link, _, intent) = refreshed_link(&app, "jonsnow+invalid@1").await;
        let accounts = link["accounts"].as_array().unwrap().len();
        let id = &intent["id"];
        let received = receiver.wait_for(|r| by_type_for(r, id).values().map(Vec::len).sum::<usize>() >= accounts + 2).await;
        let events = by_type_for(&received, id);
        let rejected = &events["account.refresh_intent.rejected"];
        assert_eq!(rejected.len(), accounts);
        assert!(rejected.iter().all(|e| e["data"]["public_error"] == "invalid_credentials_error"));
        let changed = &events["link.credentials_changed"];
        assert_eq!(changed[0]["data"]["id"], link["id"]);
        assert_eq!(changed[0]["data"]["status"], "login_required");
        assert_eq!(events["link.refresh_intent.rejected"].len(), 1);

        let (link, _, _) = refreshed_link(&app, "jonsnow+unavailable@1").await;
        let link_id = link["id"].as_str().unwrap().to_owned();
        let received = receiver.wait_for(|r| r.iter().any(|d| d.json()["type"] == "link.refresh_intent.failed")).await;
        let failed: Vec<_> = received.iter().map(Received::json)
            .filter(|e| e["type"] == "account.refresh_intent.failed").collect();
        assert_eq!(failed.len(), link["accounts"].as_array().unwrap().len());
        assert!(failed.iter().all(|e| e["data"]["public_error"] == "retryable_error"));
        let (_, for_link) = app.get(&format!("/v1/events?link_id={link_id}")).await;
        assert!(for_link.as_array().unwrap().iter().all(|e| e["type"] != "link.credentials_changed"),
            "an outage does not change credentials");
    }

    async fn trigger_fires_sample_events(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |_| {}).await;
        let (receiver, _, secret) = receiver_endpoint(&app).await;
        for event_type in ["account.refresh_intent.succeeded", "account.refresh_intent.movements_removed",
                           "link.credentials_changed", "link.refresh_intent.failed"] {
            let event = trigger(&app, event_type).await;
            assert_eq!(event["type"], event_type);
            assert!(event["data"].is_object());
            if event_type == "account.refresh_intent.movements_removed" {
                // As a recording writes it: a movement posted at midnight, the intent named.
                let data = &event["data"];
                let post_date = data["movements_removed"][0]["post_date"].as_str().unwrap();
                assert!(post_date.ends_with("T00:00:00.000Z") || post_date.ends_with("T00:00:00Z"), "{data}");
                assert!(data["refresh_intent_id"].as_str().unwrap().starts_with("ri_"), "{data}");
                assert!(data["account_id"].as_str().unwrap().starts_with("acc_"), "{data}");
            }
        }
        let received = receiver.wait_for(|r| r.len() >= 4).await;
        received.iter().for_each(|d| { verify(d, &secret); });
        let (status, body) = into_json(app.request(reqwest::Method::POST, "/v1/events/trigger",
            Some(&app.keys.secret_key), Some(serde_json::json!({"type": "nope.nope"}))).await).await;
        assert_error(status, &body, 400, "invalid_webhook_subscription");
        let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
        let (status, body) = into_json(app.request(reqwest::Method::POST, "/v1/events/trigger",
            Some(&live.secret_key), Some(serde_json::json!({"type": "link.credentials_changed"}))).await).await;
        assert_error(status, &body, 422, "not_supported_mode");
    }
}

mod api_details {
    use reqwest::Method;
    use serde_json::json;

    use super::super::support::*;
    use crate::both_backends;
    use crate::common::receiver::verify;
    use crate::common::*;

    both_backends! {
        async fn time_filters_overrides_and_endpoint_tests(app: TestApp) {
            let backend = app.backend;
            drop(app);
            let app = fast_app(backend, |_| {}).await;
            let now = || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let first = trigger(&app, "link.credentials_changed").await;
            // Times are kept to the millisecond and the trigger can answer within the one the
            // event was made in: `middle` is strictly after the first event and strictly
            // before the second.
            next_millisecond().await;
            let middle = now();
            next_millisecond().await;
            let (status, second) = into_json(app.request(Method::POST, "/v1/events/trigger", Some(&app.keys.secret_key),
                Some(json!({"type": "account.refresh_intent.failed", "overrides": {"new_movements": 42, "status": "failed"}}))).await).await;
            assert_eq!(status.as_u16(), 201);
            assert_eq!(second["data"]["new_movements"], 42, "overrides replace sample fields");
            // Triggered events are samples: listed only when asked for, and marked.
            assert_eq!(first["sample"], true, "{first}");
            let (_, listed) = app.get("/v1/events").await;
            assert_eq!(listed, json!([]), "samples are left out unless asked for");
            let (status, body) = app.get("/v1/events?include_samples=yes").await;
            assert_error(status, &body, 400, "invalid_params");
            let (_, before) = app.get(&format!("/v1/events?include_samples=true&until={middle}")).await;
            let (_, after) = app.get(&format!("/v1/events?include_samples=true&since={middle}")).await;
            assert_eq!(before.as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>(), vec![first["id"].clone()]);
            assert_eq!(after.as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>(), vec![second["id"].clone()]);
            let (status, body) = app.get("/v1/events?since=yesterday").await;
            assert_error(status, &body, 400, "invalid_date");

            // The test endpoint call reaches that endpoint only, signed.
            let (one, one_id, one_secret) = receiver_endpoint(&app).await;
            let (other, _, _) = receiver_endpoint(&app).await;
            let (status, event) = into_json(app.request(Method::POST, &format!("/v1/webhook_endpoints/{one_id}/test"),
                Some(&app.keys.secret_key), Some(json!({"type": "link.refresh_intent.succeeded"}))).await).await;
            assert_eq!(status.as_u16(), 200, "{event}");
            let received = one.wait_for(|r| !r.is_empty()).await;
            verify(&received[0], &one_secret);
            assert_eq!(received[0].json()["id"], event["id"]);
            assert_eq!(received[0].json()["sample"], true, "a receiver can tell a sample");
            // A sample looks like a real event: ids of the real shapes, a `refresh_intent_id`.
            let data = &event["data"];
            assert!(data["id"].as_str().unwrap().starts_with("ri_") && !data["id"].as_str().unwrap().contains("sample"), "{data}");
            assert!(data["refreshed_object_id"].as_str().unwrap().starts_with("link_"), "{data}");
            assert!(other.received().iter().all(|d| d.json()["id"] != event["id"]), "only the tested endpoint");
        }
    }
}
