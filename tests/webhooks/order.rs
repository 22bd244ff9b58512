//! Events in order: one refresh's events get increasing times with the link's last; they are
//! listed and delivered in that order; a consumer polling `since` the last time it saw misses
//! nothing, under a herd of concurrent refreshes. And what an endpoint may subscribe to.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::support::*;
use crate::both_backends;
use crate::common::*;

/// Whether `event` belongs to the refresh intent `id`.
fn of_intent(event: &Value, id: &Value) -> bool {
    event["data"]["refresh_intent_id"] == *id || event["data"]["id"] == *id
}

/// Every event of the default organization's test mode, newest first (all pages).
async fn every_event(app: &TestApp, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for page in 1.. {
        let (status, list) = app
            .get(&format!("/v1/events?per_page=300&page={page}{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let list = list.as_array().unwrap().clone();
        let last = list.len() < 300;
        all.extend(list);
        if last {
            break;
        }
    }
    all
}

both_backends! {
    async fn a_refreshs_events_are_stamped_listed_and_delivered_link_last(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // One delivery at a time per endpoint: claimed in order, they also arrive in order.
        let app = fast_app(backend, |c| c.webhook_per_endpoint_concurrency = 1).await;
        let (receiver, _, _) = receiver_endpoint(&app).await;
        let (link, _, intent) = refreshed_link(&app, "jonsnow+changes").await;
        let id = &intent["id"];
        let accounts = link["accounts"].as_array().unwrap().len();
        // Per account: succeeded, modified, removed; then the link's.
        let expected = 3 * accounts + 1;
        let listed: Vec<Value> = every_event(&app, "").await.into_iter().filter(|e| of_intent(e, id)).collect();
        assert_eq!(listed.len(), expected, "{listed:?}");
        // Newest first, with strictly decreasing times, and the link's event first.
        assert_eq!(listed[0]["type"], "link.refresh_intent.succeeded");
        for pair in listed.windows(2) {
            let (newer, older) = (pair[0]["created_at"].as_str().unwrap(), pair[1]["created_at"].as_str().unwrap());
            assert!(newer > older, "{newer} after {older}");
        }
        // Each is stamped after the link's first history's events too.
        let everything = every_event(&app, "").await;
        let oldest_of_ours = listed.last().unwrap()["created_at"].as_str().unwrap();
        assert!(everything.iter().filter(|e| !of_intent(e, id)).all(|e| e["created_at"].as_str().unwrap() < oldest_of_ours));

        let received = receiver.wait_for(|r| r.iter().filter(|d| of_intent(&d.json(), id)).count() >= expected).await;
        let arrived: Vec<Value> = received.iter().map(|d| d.json()).filter(|e| of_intent(e, id)).collect();
        assert_eq!(arrived.last().unwrap()["type"], "link.refresh_intent.succeeded", "the link's last: {arrived:?}");
        let mut oldest_first = listed.clone();
        oldest_first.reverse();
        let ids = |list: &[Value]| list.iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(&arrived), ids(&oldest_first), "delivered in the order they were made");
    }

    async fn a_consumer_polling_since_the_last_time_it_saw_misses_nothing(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = Arc::new(fast_app(backend, |c| c.worker_concurrency = 16).await);
        let mut tokens = Vec::new();
        for _ in 0..12 {
            tokens.push(app.create_link("41614850-3").await.1);
        }
        // The consumer: `since` the newest time it has seen (the filter includes it), every
        // page, over and over, while a herd of refreshes records their events.
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen: HashSet<String> = HashSet::new();
                let mut since = String::from("2000-01-01T00:00:00Z");
                loop {
                    let done = stop.load(Ordering::SeqCst);
                    let page = every_event(&app, &format!("&since={since}")).await;
                    for event in &page {
                        seen.insert(event["id"].as_str().unwrap().to_owned());
                        let at = event["created_at"].as_str().unwrap();
                        if at > since.as_str() {
                            since = at.to_owned();
                        }
                    }
                    if done {
                        return seen;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
        };
        for _ in 0..3 {
            let herd: Vec<_> = tokens.iter().cloned().map(|token| {
                let app = app.clone();
                tokio::spawn(async move {
                    let (status, intent) = into_json(app.request(Method::POST, "/v1/refresh_intents",
                        Some(&app.keys.secret_key), Some(json!({"link_token": token}))).await).await;
                    assert_eq!(status, StatusCode::CREATED, "{intent}");
                    wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
                })
            }).collect();
            for refresh in herd {
                refresh.await.unwrap();
            }
        }
        stop.store(true, Ordering::SeqCst);
        let seen = consumer.await.unwrap();
        let all: HashSet<String> = every_event(&app, "").await.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        // 12 links, each with its creation and first history, then three refreshes.
        assert!(all.len() >= 12 * (1 + 4 + 3 * 4), "{} events", all.len());
        let missed: Vec<&String> = all.difference(&seen).collect();
        assert!(missed.is_empty(), "the consumer missed {} of {} events: {missed:?}", missed.len(), all.len());
    }

    async fn endpoints_subscribe_to_every_fintoc_type_and_get_link_created(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |_| {}).await;
        // Fintoc's own example, and another product's type, which is stored and never sent.
        let receiver = crate::common::receiver::Receiver::start().await;
        let (created, _) = endpoint(&app, &receiver.url,
            json!(["link.created", "link.credentials_changed", "payment_intent.succeeded"])).await;
        assert_eq!(created["enabled_events"].as_array().unwrap().len(), 3, "{created}");
        for refused in ["link.refresh_intent.succeded", "account.nope", "PAYMENT.succeeded", "payment_intent"] {
            let (status, body) = into_json(app.request(Method::POST, "/v1/webhook_endpoints", Some(&app.keys.secret_key),
                Some(json!({"url": receiver.url, "enabled_events": [refused]}))).await).await;
            assert_error(status, &body, 400, "invalid_webhook_subscription");
            assert!(body["error"]["message"].as_str().unwrap().contains(refused), "{body}");
        }
        let (link, _) = app.create_link("41614850-3").await;
        let received = receiver.wait_for(|r| !r.is_empty()).await;
        let event = received[0].json();
        assert_eq!(event["type"], "link.created", "{event}");
        assert_eq!(event["data"]["id"], link["id"]);
        assert_eq!(event["data"]["accounts"].as_array().unwrap().len(), link["accounts"].as_array().unwrap().len());
        assert!(event["data"]["link_token"].is_null());
        // Its first history's events were not sent to it: it did not subscribe to them.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(receiver.received().iter().all(|d| d.json()["type"] == "link.created"), "only what it subscribed to");
    }
}
