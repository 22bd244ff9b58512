//! The transactional outbox: an event exists only if the change that caused it committed.

use refresco::config::Role;
use refresco::domain::RefreshOutcome;
use refresco::domain::*;

use crate::both_backends;
use crate::common::*;

both_backends! {
    async fn no_event_for_a_change_that_rolled_back(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.role = Role::Api).await.unwrap();
        let (link, token) = app.create_link("41614850-3").await;
        // The link's creation and first history left their events and deliveries: counted
        // before, so that what follows counts only this refresh's.
        let (_, before) = app.get("/v1/events?per_page=300").await;
        let before = before.as_array().unwrap().len();
        let pending = app.state.store.pending_deliveries().await.unwrap();
        let (_, intent) = into_json(app.request(reqwest::Method::POST, "/v1/refresh_intents",
            Some(&app.keys.secret_key), Some(serde_json::json!({"link_token": token}))).await).await;
        let store = &app.state.store;
        let job = store.claim_jobs("t", "lease", 1, 60_000).await.unwrap().remove(0);
        let link_id = LinkId::parse(link["id"].as_str().unwrap()).unwrap();
        let outcome = || RefreshOutcome {
            status: IntentStatus::Succeeded, public_error: None, failure_reason: None, accounts: None,
            credential_status: None, finished_at: Timestamp::now(), next_refresh: None,
        };
        // The events are made inside the transaction; two with one id make it fail late,
        // after the intent, the results and the first event were written.
        let twice = Box::new(|_: &refresco::domain::RecordedRefresh| {
            let event = NewEvent::new(EventType::LinkRefreshSucceeded, None, &serde_json::json!({})).unwrap();
            Ok(vec![event.clone(), event])
        });
        assert!(store.finish_refresh(&job, &link_id, outcome(), twice).await.is_err());
        let (_, events) = app.get("/v1/events?per_page=300").await;
        assert_eq!(events.as_array().unwrap().len(), before, "no event survived the rollback: {events}");
        assert_eq!(store.pending_deliveries().await.unwrap(), pending);
        let (_, still) = app.get(&format!("/v1/refresh_intents/{}?link_token={token}", intent["id"].as_str().unwrap())).await;
        assert_eq!(still["status"], "created", "the change rolled back too");

        // The same lease, done right: the change and its events commit together.
        let keys = app.state.keys.clone();
        let make = Box::new(move |recorded: &refresco::domain::RecordedRefresh| refresco::engine::events::refresh_events(&keys, recorded));
        assert!(store.finish_refresh(&job, &link_id, outcome(), make).await.unwrap().is_some());
        let (_, events) = app.get("/v1/events?per_page=300").await;
        let accounts = link["accounts"].as_array().unwrap().len();
        assert_eq!(events.as_array().unwrap().len(), before + accounts + 1, "{events}");
    }

    async fn a_refresh_queues_deliveries_only_to_its_owners_subscribed_endpoints(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // No worker and no dispatcher: the deliveries stay queued for the test to count.
        let app = TestApp::start_with(backend, |c| c.role = Role::Api).await.unwrap();
        let (link, token) = app.create_link("41614850-3").await;
        let create = |key: String, events: serde_json::Value| {
            let app = &app;
            async move {
                let body = serde_json::json!({"url": "https://hooks.example.com/refresco", "enabled_events": events});
                let (status, endpoint) = into_json(app.request(reqwest::Method::POST, "/v1/webhook_endpoints",
                    Some(&key), Some(body)).await).await;
                assert_eq!(status.as_u16(), 201, "{endpoint}");
            }
        };
        let own = app.keys.secret_key.clone();
        create(own.clone(), serde_json::json!(["*"])).await;
        create(own.clone(), serde_json::json!(["link.refresh_intent.succeeded"])).await;
        create(own, serde_json::json!(["account.refresh_intent.failed"])).await;
        // Another organization, and the same organization's live mode.
        create(app.key_pair("globex", Mode::Test).await.secret_key, serde_json::json!(["*"])).await;
        create(app.key_pair("acme", Mode::Live).await.secret_key, serde_json::json!(["*"])).await;

        app.request(reqwest::Method::POST, "/v1/refresh_intents", Some(&app.keys.secret_key),
            Some(serde_json::json!({"link_token": token}))).await;
        let store = &app.state.store;
        let job = store.claim_jobs("t", "lease", 1, 60_000).await.unwrap().remove(0);
        let link_id = LinkId::parse(link["id"].as_str().unwrap()).unwrap();
        let keys = app.state.keys.clone();
        let make = Box::new(move |recorded: &refresco::domain::RecordedRefresh| refresco::engine::events::refresh_events(&keys, recorded));
        let outcome = RefreshOutcome::succeeded_without_fetch(None);
        assert!(store.finish_refresh(&job, &link_id, outcome, make).await.unwrap().is_some());
        // One event per account and one for the link: all of them to "*", the link's one to
        // the endpoint subscribed to it, none to the others.
        let accounts = link["accounts"].as_array().unwrap().len() as i64;
        assert_eq!(store.pending_deliveries().await.unwrap(), (accounts + 1) + 1);
    }
}
