//! Claiming deliveries, straight on the store: each endpoint's share is capped, the oldest go
//! first, and what one dispatcher holds no other can claim until its lease expires.

use std::collections::HashSet;

use refresco::config::Role;
use refresco::domain::{Attempt, AttemptId, Timestamp};
use refresco::store::{AfterAttempt, DueDelivery};

use super::support::*;
use crate::both_backends;
use crate::common::*;

both_backends! {
    async fn claims_cap_each_endpoint_take_the_oldest_and_never_overlap(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // No dispatcher runs: the test is the only one claiming.
        let app = fast_app(backend, |c| c.role = Role::Api).await;
        let (_busy, busy_id, _) = receiver_endpoint(&app).await;
        let mut busy_events = Vec::new();
        for _ in 0..10 {
            // Claims take the oldest first, to the millisecond: one event per millisecond.
            next_millisecond().await;
            busy_events.push(trigger(&app, "link.credentials_changed").await["id"].as_str().unwrap().to_owned());
        }
        // A second endpoint subscribed from now on: only later events reach it (the busy one
        // gets them too: 13 in all).
        let (_quiet, quiet_id, _) = receiver_endpoint(&app).await;
        for _ in 0..3 {
            trigger(&app, "link.credentials_changed").await;
        }
        let store = &app.state.store;
        let lease = 60_000;

        // Limit 2: the two oldest deliveries of the endpoint whose backlog is oldest.
        let first = store.claim_deliveries("lease-a", 2, 4, lease).await.unwrap();
        let first_events: Vec<&str> = first.iter().map(|d| d.event.id.as_str()).collect();
        assert_eq!(first_events, busy_events[..2].iter().map(String::as_str).collect::<Vec<_>>());
        assert!(first.iter().all(|d| d.endpoint_id.as_str() == busy_id && d.lease_token == "lease-a"));

        // Room for everything: the busy endpoint fills up to its cap of 4 (2 already held),
        // the quiet one gets its 3.
        let second = store.claim_deliveries("lease-b", 100, 4, lease).await.unwrap();
        let per_endpoint = |list: &[refresco::store::DueDelivery], id: &str| {
            list.iter().filter(|d| d.endpoint_id.as_str() == id).count()
        };
        assert_eq!((per_endpoint(&second, &busy_id), per_endpoint(&second, &quiet_id)), (2, 3));
        let second_busy: Vec<&str> = second.iter().filter(|d| d.endpoint_id.as_str() == busy_id)
            .map(|d| d.event.id.as_str()).collect();
        assert_eq!(second_busy, busy_events[2..4].iter().map(String::as_str).collect::<Vec<_>>());

        // Everything in flight: a third dispatcher gets nothing, and nothing was handed twice.
        assert!(store.claim_deliveries("lease-c", 100, 4, lease).await.unwrap().is_empty());
        let ids: HashSet<String> = first.iter().chain(&second).map(|d| d.id.to_string()).collect();
        assert_eq!(ids.len(), 7);

        // Leases that expire are claimable again (a dispatcher died): a lease of 0 ms.
        let expired = store.claim_deliveries("lease-d", 100, 20, 0).await.unwrap();
        assert_eq!(expired.len(), 9, "the busy endpoint's 9 unclaimed deliveries");
        assert!(expired.iter().all(|d| d.endpoint_id.as_str() == busy_id));
        let again = store.claim_deliveries("lease-e", 100, 20, lease).await.unwrap();
        assert_eq!(again.len(), 9, "their 0 ms leases have already expired");
    }

    async fn a_batch_of_attempts_records_each_fenced_one(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |c| c.role = Role::Api).await;
        let (_r, endpoint_id, _) = receiver_endpoint(&app).await;
        for _ in 0..3 {
            trigger(&app, "link.credentials_changed").await;
        }
        let store = &app.state.store;
        let held = store.claim_deliveries("lease", 10, 10, 60_000).await.unwrap();
        assert_eq!(held.len(), 3);
        let attempt = |d: &DueDelivery, ok: bool| Attempt {
            id: AttemptId::generate(), delivery_id: d.id.clone(), endpoint_id: d.endpoint_id.clone(),
            event_id: d.event.id.clone(), attempted_at: Timestamp::now(),
            status_code: Some(if ok { 200 } else { 500 }), latency_ms: 3,
            response_body: Some("x".into()), error: None, succeeded: ok,
        };
        // The third carries a lease token that is not (or no longer) the delivery's.
        let mut stale = held[2].clone();
        stale.lease_token = "someone-else".into();
        let retry = AfterAttempt::RetryAt(Timestamp::now().plus_millis(60_000));
        let (a0, a1, a2) = (attempt(&held[0], true), attempt(&held[1], false), attempt(&stale, true));
        let recorded = store.record_attempts(&[
            (&held[0], &a0, AfterAttempt::Delivered),
            (&held[1], &a1, retry),
            (&stale, &a2, AfterAttempt::Delivered),
        ]).await.unwrap();
        assert_eq!(recorded, vec![true, true, false]);
        let logged = attempts(&app, &endpoint_id).await;
        let logged_ids: Vec<&str> = logged.iter().map(|a| a["delivery_id"].as_str().unwrap()).collect();
        assert_eq!(logged.len(), 2, "the fenced-out attempt left no row: {logged_ids:?}");
        assert!(!logged_ids.contains(&held[2].id.as_str()));
        assert_eq!(store.pending_deliveries().await.unwrap(), 2, "the retry and the stale one");
        // The endpoint is failing since the retried attempt (the last for it in the batch): a
        // new delivery to it carries that.
        trigger(&app, "link.credentials_changed").await;
        let next = store.claim_deliveries("lease-2", 10, 10, 60_000).await.unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].failing_since, Some(a1.attempted_at));
    }
}
