//! A connector that hangs, answers 500, answers garbage or drops the connection mid-answer, on
//! each call of a refresh: the refresh fails with `retryable_error`, the next one succeeds,
//! the API never answers 5xx, and the movements stored are exactly those of a twin link that
//! never met a fault (nothing recorded twice, nothing lost).

use reqwest::StatusCode;

use super::faulty::{Call, Fault, FaultyConnector, FAULTS};
use super::support::*;
use crate::both_backends;
use crate::common::*;

/// Pages of 10 movements: a `+instant` account holds 25 and `+changes` adds some 20 more, so
/// the engine follows cursors and [`Call::NextPage`] happens.
const PAGE_SIZE: usize = 10;

both_backends! {
    async fn every_fault_on_every_call_of_a_refresh_fails_and_records_nothing_twice(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let connector = FaultyConnector::start(PAGE_SIZE).await;
        let app = app_with(backend, connector.config()).await.unwrap();
        // `+changes`: every refresh brings new, modified and removed movements, so a movement
        // recorded twice or missed shows. `+instant`: a short history, quick to page through.
        let (_, token) = cl_link(&app, "jonsnow+instant+changes").await;
        let (_, twin) = cl_link(&app, "jonsnow+instant+changes").await;
        let calls = [Call::Login, Call::Accounts, Call::FirstPage, Call::NextPage];
        let mut cases: Vec<(Call, Fault)> = calls.iter().flat_map(|&c| FAULTS.map(|f| (c, f))).collect();
        // A page that repeats a movement of the page before: an answer as wrong as garbage.
        cases.push((Call::NextPage, Fault::Overlap));
        for (call, fault) in cases {
            let case = format!("{fault:?} on {call:?}");
            connector.inject(call, fault);
            assert_failed(&refresh_to_end(&app, &token).await, public_error_of(fault), &case);
            assert!(connector.log().contains(&(call, Some(fault))), "{case}: never met");
            let retried = refresh_to_end(&app, &token).await;
            assert_eq!(retried["status"], "succeeded", "{case}, the retry: {retried}");
            // The twin has as many refreshes (the sandbox's changes follow their count).
            for _ in 0..2 {
                assert_eq!(refresh_to_end(&app, &twin).await["status"], "succeeded", "{case}");
            }
            assert_eq!(movements(&app, &token).await, movements(&app, &twin).await, "{case}");
        }
        // Pages that overlap in a link's first history: the account they belong to is left
        // without movements and marked failed, as any account the bank could not read.
        connector.inject(Call::NextPage, Fault::Overlap);
        let (_, token) = cl_link(&app, "jonsnow+instant+changes").await;
        let link = get_ok(&app, &format!("/v1/links/{token}")).await;
        let failed = link["accounts"].as_array().unwrap().iter().filter(|a| a["refresh_status"] == "failed").count();
        assert_eq!(failed, 1, "{link}");
        assert_eq!(refresh_to_end(&app, &token).await["status"], "succeeded");
    }

    async fn a_second_factor_the_connector_cannot_check_can_be_answered_again(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let connector = FaultyConnector::start(PAGE_SIZE).await;
        let app = app_with(backend, connector.config()).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow+instant+mfa_sms+changes").await;
        let (_, twin) = cl_link(&app, "jonsnow+instant+mfa_sms+changes").await;
        for fault in FAULTS {
            connector.inject(Call::Mfa, fault);
            let intent = refresh(&app, &token).await;
            let id = intent["id"].as_str().unwrap();
            wait_challenge(&app, intent["requires_mfa"]["widget_token"].as_str().unwrap()).await;
            // The answer goes to the bank at once: the API says it could not be checked (the
            // documented 503 `unavailable_institution`), takes no attempt, and the refresh waits.
            let (status, body) = answer_mfa(&app, &token, id, "123456").await;
            assert_error(status, &body, 503, "unavailable_institution");
            let waiting = get_ok(&app, &format!("/v1/refresh_intents/{id}?link_token={token}")).await;
            assert_eq!(waiting["status"], "created", "{fault:?}: {waiting}");
            let (status, body) = answer_mfa(&app, &token, id, "123456").await;
            assert_eq!(status, StatusCode::OK, "{fault:?}: {body}");
            let done = wait_final(&app, &token, id).await;
            assert_eq!(done["status"], "succeeded", "{fault:?}: {done}");

            let intent = refresh(&app, &twin).await;
            let id = intent["id"].as_str().unwrap();
            wait_challenge(&app, intent["requires_mfa"]["widget_token"].as_str().unwrap()).await;
            assert_eq!(answer_mfa(&app, &twin, id, "123456").await.0, StatusCode::OK);
            assert_eq!(wait_final(&app, &twin, id).await["status"], "succeeded");
            assert_eq!(movements(&app, &token).await, movements(&app, &twin).await, "{fault:?}");
        }
    }
}

/// How a refresh that meets `fault` fails: a connector that cannot be reached or answers
/// nothing usable in time is the bank being unavailable (`retryable_error`); an answer that is
/// not the protocol's is a connector fault (`other`: `support_required_error`, for an
/// operator); pages that overlap fail their account (`retryable_error`).
fn public_error_of(fault: Fault) -> &'static str {
    match fault {
        Fault::NotJson | Fault::WrongSchema => "support_required_error",
        _ => "retryable_error",
    }
}
