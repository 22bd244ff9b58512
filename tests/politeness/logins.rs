//! The logins of link creation pass the same gate as refreshes: they take a session slot of
//! the institution (shared with the refreshes running), count for its breaker, and are refused
//! at once while it is open, or after `login_slot_wait_ms` when every slot stays taken.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::bank::{self, app_with_bank};
use crate::both_backends;
use crate::common::{into_json, Backend, TestApp};

/// `POST /v1/links` at the counting bank: the status, the `Retry-After` header and the body.
async fn create_link(app: &TestApp, password: &str) -> (StatusCode, Option<u64>, Value) {
    create_link_with(app, json!({"password": password})).await
}

/// `POST /v1/links` at the counting bank with `fields` (the password, a second factor) added
/// to the holder's login.
async fn create_link_with(app: &TestApp, fields: Value) -> (StatusCode, Option<u64>, Value) {
    let mut body = json!({"institution_id": bank::ID, "username": "41614850-3"});
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let response = app
        .request(
            Method::POST,
            "/v1/links",
            Some(&app.keys.secret_key),
            Some(body),
        )
        .await;
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let (status, body) = into_json(response).await;
    (status, retry_after, body)
}

/// The widget's credentials step at the counting bank, on a fresh link intent.
async fn widget_login(app: &TestApp) -> (StatusCode, Value) {
    let (status, intent) = into_json(
        app.request(
            Method::POST,
            "/v1/link_intents",
            Some(&app.keys.secret_key),
            Some(json!({"product": "movements", "country": "cl", "holder_type": "individual"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    let token = intent["widget_token"].as_str().unwrap();
    into_json(
        app.request(
            Method::POST,
            &format!("/v1/widget/link_intents/{token}/credentials"),
            Some(&app.keys.public_key),
            Some(json!({"institution_id": bank::ID, "username": "41614850-3", "password": "jonsnow"})),
        )
        .await,
    )
    .await
}

fn assert_unavailable(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["type"], "institution_error", "{body}");
    assert_eq!(body["error"]["code"], "unavailable_institution", "{body}");
}

both_backends! {
    async fn link_creations_and_refreshes_share_the_session_cap(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // On PostgreSQL a second engine over the same database runs half the first histories:
        // its refreshes and this process's logins share one cap.
        let (app, bank, _second) = app_with_bank(backend, Duration::from_millis(40), true, |c| {
            c.max_concurrent_sessions_by_institution.insert(bank::ID.into(), 2);
        })
        .await;
        let (_, existing) = bank::link(&app, "41614850-3").await;
        bank.most.store(0, Ordering::SeqCst);
        // Six link creations (each with its first history right after) and a refresh of an
        // existing link, all at once.
        let creations = join_all((0..6).map(|_| create_link(&app, "jonsnow")));
        let refresh = app.request(
            Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(json!({"link_token": existing})),
        );
        let (created, refresh) = tokio::join!(creations, refresh);
        assert_eq!(refresh.status(), StatusCode::CREATED);
        for (status, _, body) in created {
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        assert_eq!(bank.most.load(Ordering::SeqCst), 2, "at most two sessions at once, and the cap is used");
    }

    async fn logins_open_the_breaker_and_are_then_refused_without_calling_the_bank(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let (app, bank, _) = app_with_bank(backend, Duration::ZERO, false, |c| {
            c.breaker_failures = 2;
            c.breaker_backoff_ms = 60_000;
        })
        .await;
        bank.unavailable.store(true, Ordering::SeqCst);
        for _ in 0..2 {
            let (status, _, body) = create_link(&app, "jonsnow").await;
            assert_unavailable(status, &body);
        }
        let (_, list) = app.get("/v1/institutions").await;
        let listed = list.as_array().unwrap().iter().find(|i| i["id"] == bank::ID).unwrap().clone();
        assert_eq!(listed["status"], "down", "two unavailable logins opened it: {listed}");

        // The bank has recovered, but the breaker is open: nothing reaches it.
        bank.unavailable.store(false, Ordering::SeqCst);
        let calls = bank.calls.load(Ordering::SeqCst);
        let (status, retry_after, body) = create_link(&app, "jonsnow").await;
        assert_unavailable(status, &body);
        let retry_after = retry_after.expect("Retry-After");
        assert!((1..=60).contains(&retry_after), "until the probe: {retry_after}");
        assert_eq!(body["error"]["retry_after_seconds"], json!(retry_after));
        let (status, body) = widget_login(&app).await;
        assert_unavailable(status, &body);
        assert_eq!(bank.calls.load(Ordering::SeqCst), calls, "the bank was left alone");
    }

    async fn a_login_that_finds_every_slot_taken_waits_then_is_refused(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let (app, bank, _) = app_with_bank(backend, Duration::from_millis(1_500), false, |c| {
            c.max_concurrent_sessions_by_institution.insert(bank::ID.into(), 1);
            c.login_slot_wait_ms = 300;
        })
        .await;
        let first = create_link(&app, "jonsnow");
        let second = async {
            // Once the first login is at the bank.
            while bank.calls.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let started = std::time::Instant::now();
            let answer = create_link(&app, "jonsnow").await;
            (answer, started.elapsed())
        };
        let ((status, _, body), ((refused, retry_after, refusal), waited)) = tokio::join!(first, second);
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_unavailable(refused, &refusal);
        assert!(retry_after.is_some(), "{refusal}");
        assert!(waited >= Duration::from_millis(300), "it waited for a slot first: {waited:?}");
        assert_eq!(bank.most.load(Ordering::SeqCst), 1);
    }

    async fn a_second_factor_answer_is_kept_from_a_bank_whose_breaker_is_open(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let (app, bank, _) = app_with_bank(backend, Duration::ZERO, false, |c| {
            c.breaker_failures = 1;
            c.breaker_backoff_ms = 60_000;
        })
        .await;
        let (status, _, link) =
            create_link_with(&app, json!({"password": "jonsnow+mfa_sms", "mfa_code": "123456"})).await;
        assert_eq!(status, StatusCode::CREATED, "{link}");
        let token = link["link_token"].as_str().unwrap().to_owned();
        let (_, history) = app.get(&format!("/v1/refresh_intents?link_token={token}")).await;
        crate::common::wait_final(&app, &token, history[0]["id"].as_str().unwrap()).await;
        // A refresh parks for its second factor; then a login finds the bank down.
        let (status, intent) = into_json(app.request(Method::POST, "/v1/refresh_intents",
            Some(&app.keys.secret_key), Some(json!({"link_token": token}))).await).await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        let widget = intent["requires_mfa"]["widget_token"].as_str().unwrap().to_owned();
        crate::support::eventually("the challenge", || async {
            let (_, view) = into_json(app.request(Method::GET, &format!("/v1/widget/refresh_intents/{widget}"),
                Some(&app.keys.public_key), None).await).await;
            (view["mfa_status"] == "awaiting_answer").then_some(())
        }).await;
        bank.unavailable.store(true, Ordering::SeqCst);
        let (status, _, body) = create_link(&app, "jonsnow").await;
        assert_unavailable(status, &body);
        bank.unavailable.store(false, Ordering::SeqCst);

        let calls = bank.calls.load(Ordering::SeqCst);
        let response = app.request(Method::POST,
            &format!("/v1/refresh_intents/{}/mfa?link_token={token}", intent["id"].as_str().unwrap()),
            Some(&app.keys.secret_key), Some(json!({"code": "123456"}))).await;
        assert!(response.headers().get("retry-after").is_some());
        let (status, body) = into_json(response).await;
        assert_unavailable(status, &body);
        assert_eq!(bank.calls.load(Ordering::SeqCst), calls, "the answer did not reach the bank");
    }
}
