//! Worker lifecycle: heartbeats keep a slow refresh's lease; shutdown drains in-flight work.

use std::sync::Arc;

use refresco::config::Role;
use refresco::domain::RefreshIntentId;
use refresco::engine::worker::Worker;
use tokio_util::sync::CancellationToken;

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

/// A server without its own worker (the test runs workers) and a 1 s job lease.
async fn short_lease_app(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |c| {
        c.role = Role::Api;
        c.job_lease_secs = 1;
        c.worker_poll_ms = 20;
    })
    .await
    .unwrap()
}

/// Workers competing for the app's jobs, as separate processes would.
struct Workers {
    stop: CancellationToken,
    running: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    fn start(app: &TestApp, count: usize) -> Self {
        let stop = CancellationToken::new();
        let running = (0..count)
            .map(|_| tokio::spawn(Worker::new(Arc::clone(&app.state.engine)).run(stop.clone())))
            .collect();
        Self { stop, running }
    }

    async fn stop(self) {
        self.stop.cancel();
        for worker in self.running {
            worker.await.unwrap();
        }
    }
}

both_backends_and_connector! {
    async fn heartbeats_keep_a_slow_refresh_on_one_worker(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // A 1 s lease, a bank taking 0.7 s per call (about 2.8 s per refresh), and two workers
        // competing: without heartbeats the other worker would take the job over.
        let app = short_lease_app(backend).await;
        let (_, token) = cl_link(&app, "jonsnow+instant+slow700ms").await;
        let intent = create_ok(&app, &token).await;
        let id = intent["id"].as_str().unwrap().to_owned();
        let workers = Workers::start(&app, 2);
        let done = wait_final(&app, &token, &id).await;
        workers.stop().await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let (state, attempts) = app.state.store.job_status(&RefreshIntentId::parse(&id).unwrap()).await.unwrap().unwrap();
        assert_eq!((state.as_str(), attempts), ("done", 1), "claimed once, never taken over");
    }

    async fn a_recording_waiting_for_the_database_keeps_its_lease(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // A 1 s lease and two workers; the bank answers at once, but the recording is held back
        // until the lease has been renewed past three lease lengths (as when thousands of
        // refreshes come back together and queue for the database). If the heartbeat stopped
        // when the bank answered, the other worker would take the job over and the refresh
        // would run twice.
        let app = short_lease_app(backend).await;
        let (_, token) = cl_link(&app, "jonsnow+instant").await;
        let held = app.state.store.hold_recordings().await.unwrap();
        let intent = create_ok(&app, &token).await;
        let id = intent["id"].as_str().unwrap().to_owned();
        let intent_id = RefreshIntentId::parse(&id).unwrap();
        let workers = Workers::start(&app, 2);
        // Poll the stored lease, no fixed wait: first its claim, then renewals 3 s past it.
        let sql = format!("SELECT CAST(lease_expires_at AS TEXT) FROM refresh_jobs \
            WHERE intent_id = '{id}' AND lease_expires_at IS NOT NULL");
        let lease = || async {
            let found = crate::common::database::text_column(&app, &sql).await;
            found.first().and_then(|t| t.parse::<i64>().ok())
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let first = loop {
            if let Some(at) = lease().await { break at; }
            assert!(std::time::Instant::now() < deadline, "the job was never claimed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        while lease().await.is_none_or(|at| at < first + 3_000) {
            assert!(std::time::Instant::now() < deadline, "the lease was not renewed for 3 s");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (state, attempts) = app.state.store.job_status(&intent_id).await.unwrap().unwrap();
        assert_eq!((state.as_str(), attempts), ("running", 1), "still held by its first claim");
        drop(held);
        let done = wait_final(&app, &token, &id).await;
        workers.stop().await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let (state, attempts) = app.state.store.job_status(&intent_id).await.unwrap().unwrap();
        assert_eq!((state.as_str(), attempts), ("done", 1), "claimed once, never taken over");
    }

    async fn shutdown_drains_in_flight_refreshes(app: TestApp) {
        let mut app = app;
        // 0.4 s per bank call: the refresh is still at the bank when shutdown starts. Asked
        // for in the password rather than by `sandbox_latency_ms`, which only the built-in
        // banks read: the same slow bank behind a connector.
        let (_, token) = cl_link(&app, "jonsnow+instant+slow400ms").await;
        let intent = create_ok(&app, &token).await;
        let id = intent["id"].as_str().unwrap().to_owned();
        wait_until(&app, &token, &id, |i| i["started_at"].is_string()).await;
        app.stop_server().await; // cancels, and returns only once the worker has drained
        let store = refresco::open_store(&app.config).await.unwrap();
        let intent = store.refresh_intent_by_id(&RefreshIntentId::parse(&id).unwrap()).await.unwrap().unwrap();
        assert_eq!(intent.status.as_str(), "succeeded", "drained, not abandoned");
        store.close().await;
    }
}
