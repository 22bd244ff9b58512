//! Per-institution politeness: the cap on concurrent sessions (across two engines on one
//! PostgreSQL database), and the circuit breaker opening, probing and closing, with its state
//! in `GET /v1/institutions`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::DateTime;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::bank::{self, app_with_bank};
use crate::both_backends;
use crate::common::{into_json, wait_final, Backend, TestApp};

/// Creates an on-demand refresh of the link `token`; its id.
async fn refresh(app: &TestApp, token: &str) -> String {
    let response = app
        .request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(json!({"link_token": token})),
        )
        .await;
    let (status, body) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// The counting bank as `GET /v1/institutions` lists it.
async fn listed(app: &TestApp) -> Value {
    let (status, list) = app.get("/v1/institutions").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == bank::ID)
        .unwrap()
        .clone()
}

fn millis(wire: &Value) -> i64 {
    DateTime::parse_from_rfc3339(wire.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

both_backends! {
    async fn the_session_cap_holds_with_a_herd_of_refreshes(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // On PostgreSQL a second engine over the same database takes half the jobs: the cap is
        // the database's, not a process's.
        let (app, bank, _second) = app_with_bank(backend, Duration::from_millis(40), true, |c| {
            c.max_concurrent_sessions_by_institution.insert(bank::ID.into(), 2);
        })
        .await;
        let mut tokens = Vec::new();
        for _ in 0..6 {
            tokens.push(bank::link(&app, "41614850-3").await.1);
        }
        bank.most.store(0, Ordering::SeqCst);
        let ids = join_all(tokens.iter().map(|token| refresh(&app, token))).await;
        for (token, id) in tokens.iter().zip(&ids) {
            let intent = wait_final(&app, token, id).await;
            assert_eq!(intent["status"], "succeeded", "{intent}");
        }
        assert_eq!(bank.most.load(Ordering::SeqCst), 2, "at most two sessions at once, and the cap is used");
    }

    async fn the_breaker_opens_probes_and_closes(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let (app, bank, _) = app_with_bank(backend, Duration::ZERO, false, |c| {
            c.breaker_failures = 2;
            c.breaker_backoff_ms = 300;
            c.breaker_max_backoff_ms = 1000;
        })
        .await;
        let (_, token) = bank::link(&app, "41614850-3").await;
        assert_eq!(listed(&app).await["status"], "up");

        bank.unavailable.store(true, Ordering::SeqCst);
        let first = wait_final(&app, &token, &refresh(&app, &token).await).await;
        assert_eq!(first["failure_reason"], "institution_unavailable", "{first}");
        let degraded = listed(&app).await;
        assert_eq!(degraded["status"], "degraded", "{degraded}");
        assert!(degraded["next_probe_at"].is_null());
        wait_final(&app, &token, &refresh(&app, &token).await).await;
        let down = listed(&app).await;
        assert_eq!(down["status"], "down", "{down}");
        let probe_at = millis(&down["next_probe_at"]);
        assert_eq!(probe_at - millis(&down["status_since"]), 300, "the first backoff");

        // While open, a refresh waits for the probe time instead of calling the bank; then it
        // is the probe, which fails: open again, for twice as long.
        let calls = bank.calls.load(Ordering::SeqCst);
        let id = refresh(&app, &token).await;
        let (_, waiting) = app.get(&format!("/v1/refresh_intents/{id}?link_token={token}")).await;
        assert_eq!(waiting["status"], "created");
        let probe = wait_final(&app, &token, &id).await;
        assert_eq!(probe["failure_reason"], "institution_unavailable", "{probe}");
        assert!(millis(&probe["finished_at"]) >= probe_at, "not before the probe time: {probe}");
        assert_eq!(bank.calls.load(Ordering::SeqCst), calls + 1, "the probe's login, and nothing before it");
        let still_down = listed(&app).await;
        assert_eq!(still_down["status"], "down");
        assert_eq!(still_down["status_since"], down["status_since"], "down since it opened");
        let next = millis(&still_down["next_probe_at"]);
        assert!(next - millis(&probe["finished_at"]) >= 590, "the backoff doubled: {still_down} {probe}");

        // The bank recovers: the next probe succeeds and closes the breaker.
        bank.unavailable.store(false, Ordering::SeqCst);
        let id = refresh(&app, &token).await;
        let recovered = wait_final(&app, &token, &id).await;
        assert_eq!(recovered["status"], "succeeded", "{recovered}");
        let up = listed(&app).await;
        assert_eq!(up["status"], "up", "{up}");
        assert!(up["next_probe_at"].is_null());
    }

    async fn a_refresh_waiting_on_an_open_breaker_ends_at_its_deadline(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let (app, bank, _) = app_with_bank(backend, Duration::ZERO, false, |c| {
            c.breaker_failures = 1;
            c.breaker_backoff_ms = 60_000;
            c.refresh_timeout_secs = 1;
        })
        .await;
        let (_, token) = bank::link(&app, "41614850-3").await;
        bank.unavailable.store(true, Ordering::SeqCst);
        wait_final(&app, &token, &refresh(&app, &token).await).await;
        assert_eq!(listed(&app).await["status"], "down");
        let calls = bank.calls.load(Ordering::SeqCst);
        let ended = wait_final(&app, &token, &refresh(&app, &token).await).await;
        assert_eq!(ended["failure_reason"], "deadline_exceeded", "{ended}");
        assert_eq!(bank.calls.load(Ordering::SeqCst), calls, "the bank was left alone");
    }
}
