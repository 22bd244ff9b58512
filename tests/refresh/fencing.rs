//! Leases: a worker that lost its lease changes nothing; a dead worker's job is taken over and
//! finished exactly once; re-running the same refresh creates no duplicate movements.

use std::sync::Arc;

use refresco::config::Role;
use refresco::domain::RefreshOutcome;
use refresco::domain::{RefreshIntentId, Timestamp};
use refresco::engine::refresh::{run_job, RunResult};
use refresco::engine::worker::Worker;

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

async fn api_only(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |c| c.role = Role::Api)
        .await
        .unwrap()
}

both_backends_and_connector! {
    async fn a_worker_that_lost_its_lease_writes_nothing(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = api_only(backend).await;
        let (_, token) = cl_link(&app, "jonsnow+changes").await;
        let intent = create_ok(&app, &token).await;
        let id = RefreshIntentId::parse(intent["id"].as_str().unwrap()).unwrap();
        let store = &app.state.store;

        // Worker A claims with a lease that is already over (it "hung"); B takes over.
        let a = store.claim_jobs("a", "token-a", 10, 0).await.unwrap();
        assert_eq!(a.len(), 1);
        let b = store.claim_jobs("b", "token-b", 10, 60_000).await.unwrap();
        assert_eq!(b.len(), 1, "an expired lease is claimable");
        assert!(store.claim_jobs("c", "token-c", 10, 60_000).await.unwrap().is_empty(), "B's lease holds");

        // A's writes are refused: heartbeat, finishing, releasing, parking.
        assert!(!store.heartbeat(&a[0], 60_000).await.unwrap());
        let outcome = RefreshOutcome {
            status: refresco::domain::IntentStatus::Succeeded, public_error: None, failure_reason: None,
            accounts: None, credential_status: None, finished_at: Timestamp::now(), next_refresh: None,
        };
        let link_id = refresco::domain::LinkId::parse(intent["refreshed_object_id"].as_str().unwrap()).unwrap();
        assert!(store.finish_refresh(&a[0], &link_id, outcome, Box::new(|_| Ok(Vec::new()))).await.unwrap().is_none());
        assert!(!store.release_job(&a[0], Timestamp::now()).await.unwrap());
        let (_, still) = app.get(&format!("/v1/refresh_intents/{id}?link_token={token}")).await;
        assert_eq!(still["status"], "created", "A changed nothing");
        assert!(results(&app, id.as_str()).await.is_empty());

        // B runs it for real.
        let ctx = app.state.engine.clone();
        assert_eq!(run_job(&ctx, b[0].clone()).await.unwrap(), RunResult::Finished(refresco::domain::IntentStatus::Succeeded));
        let (_, done) = app.get(&format!("/v1/refresh_intents/{id}?link_token={token}")).await;
        assert_eq!(done["status"], "succeeded");
        // A running the whole job now is fenced out too.
        assert_eq!(run_job(&ctx, a[0].clone()).await.unwrap(), RunResult::LeaseLost);
        let per_account = results(&app, id.as_str()).await;
        assert!(per_account.iter().all(|r| r.3 == 2), "recorded once: {per_account:?}");
    }

    async fn run_once_drives_jobs_and_the_same_bank_data_twice_gives_the_same_rows(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| {
            c.role = Role::Api;
            c.cooldown_only_last_secs = 0;
        })
        .await
        .unwrap();
        // Without `+changes` the sandbox shows the same movements all day.
        let (_, token) = cl_link(&app, "jonsnow").await;
        let before = all_movements(&app, &token).await;
        let worker = Worker::new(Arc::clone(&app.state.engine));
        for _ in 0..2 {
            let intent = create_ok(&app, &token).await;
            let ran = worker.run_once().await.unwrap();
            assert_eq!(ran, vec![RunResult::Finished(refresco::domain::IntentStatus::Succeeded)]);
            assert!(worker.run_once().await.unwrap().is_empty(), "nothing left to claim");
            let (_, done) = app.get(&format!("/v1/refresh_intents/{}?link_token={token}", intent["id"].as_str().unwrap())).await;
            assert_eq!(done["new_movements"], 0);
            assert_eq!(all_movements(&app, &token).await, before, "identical rows, ids included");
        }
    }
}

/// A refresh waiting on the bank is a task holding `run_job`'s future, and S3 holds 10,000 of
/// them (BENCHMARKS.md). Recording and parking for MFA are boxed when they start, so the
/// future does not carry their state machines while it waits (6.4 KB before, 1.7 KB after).
#[tokio::test]
async fn a_refresh_in_flight_holds_a_small_future() {
    let app = api_only(Backend::Sqlite).await;
    let job = refresco::store::ClaimedJob {
        intent_id: RefreshIntentId::generate(),
        lease_token: String::new(),
        attempts: 1,
    };
    let size = std::mem::size_of_val(&run_job(&app.state.engine, job));
    assert!(size <= 3 * 1024, "run_job's future is {size} bytes");
}
