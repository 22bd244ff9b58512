//! A connector restarted (stopped, then serving again on the same port) in the middle of a
//! refresh: between the login and the second factor, and while the engine waits for a page
//! of movements. Every intent ends, the retry succeeds, and the movements stored are those of
//! a twin link the restart never touched.

use reqwest::StatusCode;

use super::faulty::{Call, Fault, FaultyConnector};
use super::support::*;
use crate::both_backends;
use crate::common::*;

/// Pages of 10: a `+instant+changes` account's movements take several.
const PAGE_SIZE: usize = 10;

/// Refreshes the twin link `token` once, answering the second factor when asked.
async fn refresh_twin(app: &TestApp, token: &str) {
    let intent = refresh(app, token).await;
    let id = intent["id"].as_str().unwrap();
    if let Some(widget) = intent["requires_mfa"]["widget_token"].as_str() {
        wait_challenge(app, widget).await;
        assert_eq!(answer_mfa(app, token, id, "123456").await.0, StatusCode::OK);
    }
    assert_eq!(wait_final(app, token, id).await["status"], "succeeded");
}

both_backends! {
    async fn a_refresh_parked_on_its_second_factor_finishes_after_the_connector_restarts(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let mut connector = FaultyConnector::start(PAGE_SIZE).await;
        let app = app_with(backend, connector.config()).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow+instant+mfa_sms+changes").await;
        let (_, twin) = cl_link(&app, "jonsnow+instant+mfa_sms+changes").await;
        let intent = refresh(&app, &token).await;
        let id = intent["id"].as_str().unwrap();
        wait_challenge(&app, intent["requires_mfa"]["widget_token"].as_str().unwrap()).await;

        // Logged in and parked: the connector goes away between two calls of the refresh.
        connector.stop().await;
        let (status, body) = answer_mfa(&app, &token, id, "123456").await;
        assert_error(status, &body, 503, "unavailable_institution");
        connector.restart().await;
        // The challenge the connector gave before its restart is still good after it: its
        // state travels in the session the engine parked, not in the connector.
        let (status, body) = answer_mfa(&app, &token, id, "123456").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let done = wait_final(&app, &token, id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        refresh_twin(&app, &twin).await;
        assert_eq!(movements(&app, &token).await, movements(&app, &twin).await);
    }

    async fn a_connector_restarting_while_a_refresh_reads_movements(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let mut connector = FaultyConnector::start(PAGE_SIZE).await;
        let app = app_with(backend, connector.config()).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow+instant+changes").await;
        let (_, twin) = cl_link(&app, "jonsnow+instant+changes").await;
        // The engine has logged in and listed the accounts; the first page of movements is
        // asked for when the connector restarts, its connection cut.
        connector.inject(Call::FirstPage, Fault::Hold);
        let intent = refresh(&app, &token).await;
        connector.wait_held().await;
        connector.restart().await;
        let done = wait_final(&app, &token, intent["id"].as_str().unwrap()).await;
        assert_retryable(&done, "cut mid-refresh");
        let retried = refresh_to_end(&app, &token).await;
        assert_eq!(retried["status"], "succeeded", "{retried}");
        for _ in 0..2 {
            refresh_twin(&app, &twin).await;
        }
        assert_eq!(movements(&app, &token).await, movements(&app, &twin).await);
        let calls: Vec<Call> = connector.log().into_iter().map(|(call, _)| call).collect();
        assert!(calls.contains(&Call::NextPage), "pages are followed: {calls:?}");
    }
}
