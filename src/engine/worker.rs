//! The worker: claims ready jobs and runs them with bounded concurrency. `run_once` is one
//! claim-and-run round that tests call directly; `run` loops until cancelled, then stops
//! claiming and drains what is in flight.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::refresh::{run_job, RunResult};
use super::EngineContext;
use crate::crypto::random_token;
use crate::store::ClaimedJob;

/// One worker (one per process).
pub struct Worker {
    ctx: Arc<EngineContext>,
    /// Identifies this worker in leases, for operators.
    owner: String,
}

impl Worker {
    /// A worker over `ctx`.
    pub fn new(ctx: Arc<EngineContext>) -> Self {
        let owner = format!("worker-{}-{}", std::process::id(), random_token(6));
        Self { ctx, owner }
    }

    async fn claim(&self, limit: usize) -> anyhow::Result<Vec<ClaimedJob>> {
        // One fresh token per claim: a later claim of the same job (after our lease expired)
        // gets a different token, which is what fences us out.
        let token = random_token(24);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.ctx
            .store
            .claim_jobs(&self.owner, &token, limit, self.ctx.lease_millis())
            .await
    }

    /// Claims as many jobs as concurrency allows, runs them all to their next resting point,
    /// and returns what each ended with.
    pub async fn run_once(&self) -> anyhow::Result<Vec<RunResult>> {
        let jobs = self.claim(self.ctx.config.worker_concurrency).await?;
        let mut set = JoinSet::new();
        for job in jobs {
            let ctx = self.ctx.clone();
            set.spawn(async move { run_job(&ctx, job).await });
        }
        let mut results = Vec::new();
        while let Some(joined) = set.join_next().await {
            results.push(joined??);
        }
        Ok(results)
    }

    /// Runs until `shutdown` fires; then stops claiming and waits up to the drain timeout for
    /// running refreshes (jobs still running after that are taken over by another worker when
    /// their lease expires).
    pub async fn run(self, shutdown: CancellationToken) {
        let concurrency = self.ctx.config.worker_concurrency;
        let permits = Arc::new(Semaphore::new(concurrency));
        let poll = Duration::from_millis(self.ctx.config.worker_poll_ms.max(10));
        let mut running = JoinSet::new();
        tracing::info!(owner = %self.owner, concurrency, "worker started");
        // New work (a wake-up or a poll) is claimed at once. When the loop only woke because
        // a task ended, it claims once a quarter of the slots is free: under load, claiming
        // the single freed slot would cost a write transaction per job.
        let batch = (concurrency / 4).max(1);
        let mut new_work = true;
        loop {
            let free = permits.available_permits();
            if free > 0 && (new_work || free >= batch || running.is_empty()) {
                match self.claim(free).await {
                    Ok(jobs) => {
                        for job in jobs {
                            let permit = permits.clone().acquire_owned().await.expect("open");
                            let ctx = self.ctx.clone();
                            running.spawn(async move {
                                let _permit = permit;
                                let intent_id = job.intent_id.clone();
                                if let Err(e) = run_job(&ctx, job).await {
                                    tracing::error!(intent_id = %intent_id, error = format!("{e:#}"), "refresh job failed");
                                }
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = format!("{e:#}"), "claiming jobs failed"),
                }
            }
            // Reap finished tasks without blocking.
            while running.try_join_next().is_some() {}
            new_work = tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.ctx.wake.notified() => true,
                () = tokio::time::sleep(poll) => true,
                Some(_) = running.join_next(), if !running.is_empty() => false,
            };
        }
        let drain = Duration::from_secs(self.ctx.config.shutdown_drain_secs);
        tracing::info!(in_flight = running.len(), "worker stopping; draining");
        let drained = tokio::time::timeout(drain, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(left = running.len(), "drain timed out; leases will expire");
            running.abort_all();
        }
        tracing::info!("worker stopped");
    }
}
