//! Group commit of the most frequent writes on SQLite: refresh-intent creates, job heartbeats,
//! the recordings of finished refreshes, and the claims of jobs and of webhook deliveries.
//!
//! SQLite has one writer and, with `synchronous = FULL`, every commit waits for an fsync of the
//! WAL (about a millisecond on common disks): one write per commit caps these writes at roughly
//! one thousand a second however many clients ask (and 10,000 refreshes in flight send 1,000
//! heartbeats a second with the default 30 s lease). Here writes that arrive while a commit is
//! in flight queue up, and a single writer task puts each queued batch in **one** transaction:
//! every create runs inside its own savepoint (so one refused by a rule, or by the
//! one-in-progress index, or one that fails, rolls back alone), a recording that fails has the
//! batch written again with every recording in its own savepoint (see `commit_batch`), then
//! one `COMMIT` (one fsync) makes the whole batch
//! durable, and only then is each caller answered. An acknowledged write is on disk exactly as
//! before; a lone write waits for nobody (the batch is whatever is queued, never a timer).
//!
//! PostgreSQL needs none of this: its commits from concurrent connections already share WAL
//! flushes, so on PostgreSQL these writes commit one by one.

use sqlx::{Acquire, AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::deliveries::DueDelivery;
use super::delivery_claims::DeliveryClaim;
use super::ingest::{RecordedCounts, Recording};
use super::jobs::{extend_lease, ClaimedJob, JobClaim};
use super::refresh::{insert_intent, CreateRefreshError, NewRefreshIntent};
use super::Store;
use crate::domain::{Cooldowns, RefreshIntent, RefreshIntentId};

/// Creates per transaction at most (bounds one commit's size and latency).
const MAX_BATCH: usize = 256;

pub(super) enum Request {
    /// Create a refresh intent (rules checked in its savepoint).
    Create {
        new: NewRefreshIntent,
        cooldowns: Cooldowns,
        answer: oneshot::Sender<Result<RefreshIntent, CreateRefreshError>>,
    },
    /// Record a finished refresh (fenced by its lease inside its savepoint).
    Record {
        recording: Box<Recording>,
        answer: oneshot::Sender<anyhow::Result<Option<RecordedCounts>>>,
    },
    /// Claim refresh jobs.
    ClaimJobs {
        claim: JobClaim,
        answer: oneshot::Sender<anyhow::Result<Vec<ClaimedJob>>>,
    },
    /// Claim webhook deliveries.
    ClaimDeliveries {
        claim: DeliveryClaim,
        answer: oneshot::Sender<anyhow::Result<Vec<DueDelivery>>>,
    },
    /// Extend a job's lease, fenced by its token; answers whether the lease was still ours.
    Heartbeat {
        intent_id: RefreshIntentId,
        lease_token: String,
        expires_at: i64,
        answer: oneshot::Sender<anyhow::Result<bool>>,
    },
}

/// A handle to the writer task; cloned with the store. The task ends when every handle is gone.
#[derive(Clone, Debug)]
pub(super) struct GroupWriter {
    queue: mpsc::UnboundedSender<Request>,
}

impl GroupWriter {
    /// Starts the writer task over the (single-connection) SQLite write pool.
    pub(super) fn start(write: AnyPool) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(run(write, requests));
        Self { queue }
    }

    /// Queues a request made by `request` around its answer's sender, and waits for the
    /// answer (given once its batch is committed).
    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> anyhow::Result<T> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(request(answer))
            .map_err(|_| anyhow::anyhow!("the group writer has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("the group writer dropped a request"))
    }

    /// Creates `new` in the next batch; returns once its batch is committed (or refused).
    pub(super) async fn create(
        &self,
        new: &NewRefreshIntent,
        cooldowns: Cooldowns,
    ) -> Result<RefreshIntent, CreateRefreshError> {
        let new = new.clone();
        self.ask(|answer| Request::Create {
            new,
            cooldowns,
            answer,
        })
        .await?
    }

    /// Extends the lease of `intent_id` held with `lease_token` to `expires_at` in the next
    /// batch; false when the lease is no longer ours.
    pub(super) async fn heartbeat(
        &self,
        intent_id: &RefreshIntentId,
        lease_token: &str,
        expires_at: i64,
    ) -> anyhow::Result<bool> {
        let (intent_id, lease_token) = (intent_id.clone(), lease_token.to_owned());
        self.ask(|answer| Request::Heartbeat {
            intent_id,
            lease_token,
            expires_at,
            answer,
        })
        .await?
    }
}

/// A write that, on SQLite, joins the group writer's next transaction (where it is written
/// without a savepoint, and again with one if something in its group fails: see
/// `commit_batch`), and elsewhere commits in a transaction of its own.
pub(super) trait GroupedWrite: Sized + Send + 'static {
    /// What the write answers.
    type Output: Send + 'static;

    /// Writes on `conn`, inside a transaction its caller commits.
    fn write(
        &self,
        conn: &mut AnyConnection,
    ) -> impl std::future::Future<Output = anyhow::Result<Self::Output>> + Send;

    /// The group writer's request for it, answered on `answer`.
    fn request(self, answer: oneshot::Sender<anyhow::Result<Self::Output>>) -> Request;
}

impl Store {
    /// Runs `write`, in the group writer's next transaction on SQLite and in a transaction of
    /// its own on PostgreSQL; answers once it is committed.
    pub(super) async fn write_grouped<W: GroupedWrite>(
        &self,
        write: W,
    ) -> anyhow::Result<W::Output> {
        if let Some(writer) = &self.group_writer {
            return writer.ask(|answer| write.request(answer)).await?;
        }
        let mut tx = self.begin().await?;
        let output = write.write(&mut tx).await?;
        tx.commit().await?;
        Ok(output)
    }
}

async fn run(write: AnyPool, mut requests: mpsc::UnboundedReceiver<Request>) {
    // `recv_many` waits for one request, then takes whatever else is queued (up to the max).
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(&write, std::mem::take(&mut batch)).await;
    }
}

/// What one request of a batch did, before the commit decides.
enum Done {
    Create(Result<RefreshIntent, CreateRefreshError>),
    Record(anyhow::Result<Option<RecordedCounts>>),
    ClaimJobs(anyhow::Result<Vec<ClaimedJob>>),
    ClaimDeliveries(anyhow::Result<Vec<DueDelivery>>),
    Heartbeat(anyhow::Result<bool>),
}

impl Done {
    /// The outcome of `request` when it could not be written at all.
    fn failure(request: &Request, e: anyhow::Error) -> Done {
        match request {
            Request::Create { .. } => Done::Create(Err(CreateRefreshError::Store(e))),
            Request::Record { .. } => Done::Record(Err(e)),
            Request::ClaimJobs { .. } => Done::ClaimJobs(Err(e)),
            Request::ClaimDeliveries { .. } => Done::ClaimDeliveries(Err(e)),
            Request::Heartbeat { .. } => Done::Heartbeat(Err(e)),
        }
    }

    /// Whether the request failed (a create refused by a rule did not: it was undone alone).
    fn failed(&self) -> bool {
        match self {
            Done::Create(_) => false,
            Done::Record(outcome) => outcome.is_err(),
            Done::ClaimJobs(outcome) => outcome.is_err(),
            Done::ClaimDeliveries(outcome) => outcome.is_err(),
            Done::Heartbeat(outcome) => outcome.is_err(),
        }
    }
}

/// One transaction for the whole batch; answers after `COMMIT`.
///
/// Each create writes in a savepoint of its own, inside its one script. Recordings and claims
/// ([`GroupedWrite`]s) are first written without one: a savepoint costs two round trips to the
/// writer's thread (its `SAVEPOINT` and its `RELEASE`; a recording is now three), and they
/// almost never fail (a recording whose lease was lost writes nothing: its fence is its first
/// statement). When one does fail, the whole transaction is rolled back and the batch written
/// again with each of them in its own savepoint, so that the failure is undone alone
/// (BENCHMARKS.md, changes 42 and 43).
#[tracing::instrument(skip_all, fields(batch = batch.len()))]
async fn commit_batch(write: &AnyPool, batch: Vec<Request>) {
    let (committed, done) = match write_batch(write, &batch, false).await {
        Some(written) => written,
        None => write_batch(write, &batch, true).await.unwrap_or_else(|| {
            let lost = anyhow::anyhow!("a group written in savepoints asked to be written again");
            (Err(lost), Vec::new())
        }),
    };
    // `done` is shorter than the batch when the transaction could not begin.
    let mut done = done.into_iter();
    for request in batch {
        match &committed {
            Ok(()) => answer(request, Ok(()), done.next()),
            Err(e) => answer(request, Err(anyhow::anyhow!("{e:#}")), done.next()),
        }
    }
}

/// Writes `batch` in one transaction and commits it: whether the commit succeeded, and what
/// each request did. With `in_savepoints`, each recording and claim is written in its own
/// savepoint; without, a failing one rolls back the whole transaction and `None` is returned,
/// for the batch to be written again with them.
async fn write_batch(
    write: &AnyPool,
    batch: &[Request],
    in_savepoints: bool,
) -> Option<(anyhow::Result<()>, Vec<Done>)> {
    let mut tx = match write.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let error = anyhow::anyhow!("beginning a transaction: {e}");
            return Some((Err(error), Vec::new()));
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    for request in batch {
        let outcome = match request {
            // A create writes in a savepoint of its own (see `insert_intent`) and a heartbeat
            // is one statement: either is undone alone when it fails.
            Request::Create { .. } | Request::Heartbeat { .. } => perform(&mut tx, request).await,
            _ if in_savepoints => {
                let in_savepoint = async {
                    let mut savepoint = tx.begin().await?;
                    let outcome = perform(&mut savepoint, request).await;
                    // A failure is undone alone: dropping the savepoint rolls back to it.
                    if !outcome.failed() {
                        savepoint.commit().await?;
                    }
                    anyhow::Ok(outcome)
                };
                in_savepoint
                    .await
                    .unwrap_or_else(|e| Done::failure(request, e))
            }
            _ => {
                let outcome = perform(&mut tx, request).await;
                if outcome.failed() {
                    tracing::warn!("a write failed in its group; writing the group again, each write in a savepoint");
                    if let Err(e) = tx.rollback().await {
                        tracing::warn!(error = %e, "rolling back a group of writes");
                    }
                    return None;
                }
                outcome
            }
        };
        done.push(outcome);
    }
    let committed = tx
        .commit()
        .await
        .map_err(|e| anyhow::anyhow!("committing a group of writes: {e}"));
    Some((committed, done))
}

/// Writes one request on `conn`.
async fn perform(conn: &mut AnyConnection, request: &Request) -> Done {
    match request {
        Request::Create { new, cooldowns, .. } => {
            Done::Create(insert_intent(conn, new, *cooldowns).await)
        }
        Request::Record { recording, .. } => Done::Record(recording.write(conn).await),
        Request::ClaimJobs { claim, .. } => Done::ClaimJobs(claim.write(conn).await),
        Request::ClaimDeliveries { claim, .. } => Done::ClaimDeliveries(claim.write(conn).await),
        Request::Heartbeat {
            intent_id,
            lease_token,
            expires_at,
            ..
        } => Done::Heartbeat(extend_lease(conn, intent_id, lease_token, *expires_at).await),
    }
}

/// Answers one request: with its own outcome once the batch committed, or with the batch's
/// error (a create a rule refused keeps its refusal: nothing of it was to be written anyway).
fn answer(request: Request, batch: anyhow::Result<()>, done: Option<Done>) {
    match (request, done) {
        (Request::Create { answer, .. }, done) => {
            let outcome = match (batch, done) {
                (Ok(()), Some(Done::Create(outcome))) => outcome,
                (_, Some(Done::Create(Err(refused)))) => Err(refused),
                (Err(e), _) => Err(CreateRefreshError::Store(e)),
                (Ok(()), _) => Err(CreateRefreshError::Store(anyhow::anyhow!("lost outcome"))),
            };
            let _ = answer.send(outcome);
        }
        (Request::Record { answer, .. }, Some(Done::Record(outcome))) => {
            reply(answer, batch, Some(outcome))
        }
        (Request::Record { answer, .. }, _) => reply(answer, batch, None),
        (Request::ClaimJobs { answer, .. }, Some(Done::ClaimJobs(outcome))) => {
            reply(answer, batch, Some(outcome))
        }
        (Request::ClaimJobs { answer, .. }, _) => reply(answer, batch, None),
        (Request::ClaimDeliveries { answer, .. }, Some(Done::ClaimDeliveries(outcome))) => {
            reply(answer, batch, Some(outcome))
        }
        (Request::ClaimDeliveries { answer, .. }, _) => reply(answer, batch, None),
        (Request::Heartbeat { answer, .. }, Some(Done::Heartbeat(outcome))) => {
            reply(answer, batch, Some(outcome))
        }
        (Request::Heartbeat { answer, .. }, _) => reply(answer, batch, None),
    }
}

/// Sends a request its outcome, or the batch's error when the batch did not commit.
fn reply<T>(
    answer: oneshot::Sender<anyhow::Result<T>>,
    batch: anyhow::Result<()>,
    outcome: Option<anyhow::Result<T>>,
) {
    let outcome = outcome.unwrap_or_else(|| Err(anyhow::anyhow!("lost outcome")));
    let _ = answer.send(batch.and(outcome));
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
