//! A scheduled refresh that meets a second factor: nobody is there to answer, so it ends at
//! once with its reason, the link asks for its person from then on (on-demand refreshes come
//! with `requires_mfa`), and the schedule leaves it alone.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::bank;
use crate::both_backends;
use crate::common::{into_json, wait_final, Backend, TestApp};
use crate::support::*;

/// `POST /v1/refresh_intents` for `token`: the intent, asserting it was created.
async fn refresh(app: &TestApp, token: &str) -> Value {
    let (status, intent) = into_json(
        app.request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(json!({"link_token": token})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    intent
}

both_backends! {
    async fn a_scheduled_refresh_that_meets_a_second_factor_ends_and_leaves_it_to_the_person(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let (app, bank, _) = bank::app_with_bank(backend, Duration::ZERO, false, |_| {}).await;
        let (link, token) = bank::link(&app, "41614850-3").await;
        // The bank starts asking for a code at every login.
        bank.mfa.store(true, Ordering::SeqCst);
        let scheduler = scheduler(&app);
        let created = scheduler.run_once(hours_ahead(2)).await.unwrap();
        assert_eq!(created.len(), 1, "the link was schedulable");
        let id = created[0].as_str();
        let ended = wait_final(&app, &token, id).await;
        assert_eq!(ended["status"], "failed", "{ended}");
        assert_eq!(ended["public_error"], "retryable_error", "{ended}");
        assert_eq!(ended["failure_reason"], "mfa_required_unattended", "{ended}");
        assert!(ended["requires_mfa"].is_null(), "nothing waits for an answer: {ended}");

        // The link-level event says why.
        let (_, events) = app.get(&format!(
            "/v1/events?link_id={}&type=link.refresh_intent.failed", link["id"].as_str().unwrap())).await;
        let ours: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["data"]["id"] == id).collect();
        assert_eq!(ours.len(), 1, "{events}");
        assert_eq!(ours[0]["data"]["failure_reason"], "mfa_required_unattended");

        // The schedule leaves the link alone from then on.
        assert!(scheduler.run_once(hours_ahead(24)).await.unwrap().is_empty(), "not scheduled again");

        // Its person refreshes on demand: the intent hands back the widget token, and the code
        // finishes it.
        let intent = refresh(&app, &token).await;
        assert!(intent["requires_mfa"]["widget_token"].is_string(), "{intent}");
        let on_demand = intent["id"].as_str().unwrap();
        let answered = eventually("the bank's challenge", || async {
            let (status, body) = into_json(app.request(Method::POST,
                &format!("/v1/refresh_intents/{on_demand}/mfa?link_token={token}"),
                Some(&app.keys.secret_key), Some(json!({"code": "123456"}))).await).await;
            (status != StatusCode::CONFLICT).then_some((status, body))
        }).await;
        assert_eq!(answered.0, StatusCode::OK, "{}", answered.1);
        let done = wait_final(&app, &token, on_demand).await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
}
