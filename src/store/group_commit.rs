//! Group commit of the most frequent writes on SQLite: refresh-intent creates, link creations,
//! job heartbeats, the recordings of finished refreshes, and the claims of jobs and of webhook
//! deliveries.
//!
//! SQLite has one writer and, with `synchronous = FULL`, every commit waits for an fsync of the
//! WAL (about a millisecond on common disks): one write per commit caps these writes at roughly
//! one thousand a second however many clients ask (and 10,000 refreshes in flight send 1,000
//! heartbeats a second with the default 30 s lease). Here writes that arrive while a commit is
//! in flight queue up, and a single writer task puts each queued group in **one** transaction,
//! then one `COMMIT` (one fsync) makes the whole group durable, and only then is each caller
//! answered. An acknowledged write is on disk exactly as before; a lone write waits for nobody
//! (the group is whatever is queued, never a timer).
//!
//! A failure must not undo its neighbours. A write that undoes itself (a create runs in a
//! savepoint of its own inside its script, a heartbeat is one statement) is simply written.
//! The others are first written without a savepoint: a savepoint costs two round trips to the
//! writer's thread (its `SAVEPOINT` and its `RELEASE`), and they almost never fail (a recording
//! whose lease was lost writes nothing: its fence is its first statement). When one does fail,
//! the whole transaction is rolled back and the group written again with each of them in its
//! own savepoint, so that the failure is undone alone.
//!
//! The queue holds any [`GroupedWrite`]: a new kind of grouped write is one impl beside its SQL.
//! PostgreSQL needs none of this: its commits from concurrent connections already share WAL
//! flushes, so there each write commits in a transaction of its own ([`Store::write_grouped`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::{Acquire, AnyConnection};
use tokio::sync::{mpsc, oneshot};

use super::pool::Pool;
use super::Store;
use crate::metrics::Metrics;

/// Writes per transaction at most (bounds one commit's size and latency).
const MAX_BATCH: usize = 256;

/// A write that, on SQLite, joins the group writer's next transaction, and elsewhere commits
/// in a transaction of its own.
pub(super) trait GroupedWrite: Send + Sync + 'static {
    /// What the write answers.
    type Output: Send + 'static;

    /// Whether a failure of the write undoes itself (its own savepoint, or a single
    /// statement), so that it never needs a savepoint from the group.
    const UNDOES_ITSELF: bool = false;

    /// Writes on `conn`, inside a transaction its caller commits.
    fn write(
        &self,
        conn: &mut AnyConnection,
    ) -> impl Future<Output = anyhow::Result<Self::Output>> + Send;

    /// Whether `output` stands even when the group fails to commit (a refused create wrote
    /// nothing that could be lost); otherwise the caller gets the group's error.
    fn stands_without_commit(_output: &Self::Output) -> bool {
        false
    }
}

/// A handle to the writer task; cloned with the store. The task ends when every handle is gone.
#[derive(Clone, Debug)]
pub(super) struct GroupWriter {
    queue: mpsc::UnboundedSender<Box<dyn Queued>>,
}

impl GroupWriter {
    /// Starts the writer task over the (single-connection) SQLite write pool.
    pub(super) fn start(write: Pool, metrics: Arc<Metrics>) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(run(write, requests, metrics));
        Self { queue }
    }

    /// Queues `write` for the next group and waits for its answer (given once its group is
    /// committed).
    pub(super) async fn ask<W: GroupedWrite>(&self, write: W) -> anyhow::Result<W::Output> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            write,
            outcome: None,
            answer,
        };
        self.queue
            .send(Box::new(pending))
            .map_err(|_| anyhow::anyhow!("the group writer has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("the group writer dropped a request"))?
    }
}

impl Store {
    /// Runs `write`, in the group writer's next transaction on SQLite and in a transaction of
    /// its own on PostgreSQL; answers once it is committed.
    pub(super) async fn write_grouped<W: GroupedWrite>(
        &self,
        write: W,
    ) -> anyhow::Result<W::Output> {
        if let Some(writer) = &self.group_writer {
            return writer.ask(write).await;
        }
        let mut tx = self.begin().await?;
        let output = write.write(&mut tx).await?;
        tx.commit().await?;
        Ok(output)
    }
}

/// A queued write, its outcome and who waits for it, with the type of its answer erased so
/// that one queue holds every kind of write.
trait Queued: Send {
    /// Writes on `conn` and keeps the outcome; true when the write failed.
    fn perform<'a>(
        &'a mut self,
        conn: &'a mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

    /// [`GroupedWrite::UNDOES_ITSELF`].
    fn undoes_itself(&self) -> bool;

    /// Records a failure that happened around the write (its savepoint could not be taken).
    fn fail(&mut self, error: anyhow::Error);

    /// Answers the caller: its outcome once the group committed, or the group's error.
    fn answer(self: Box<Self>, group: &anyhow::Result<()>);
}

struct Pending<W: GroupedWrite> {
    write: W,
    outcome: Option<anyhow::Result<W::Output>>,
    answer: oneshot::Sender<anyhow::Result<W::Output>>,
}

impl<W: GroupedWrite> Queued for Pending<W> {
    fn perform<'a>(
        &'a mut self,
        conn: &'a mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            let outcome = self.write.write(conn).await;
            let failed = outcome.is_err();
            self.outcome = Some(outcome);
            failed
        })
    }

    fn undoes_itself(&self) -> bool {
        W::UNDOES_ITSELF
    }

    fn fail(&mut self, error: anyhow::Error) {
        self.outcome = Some(Err(error));
    }

    fn answer(self: Box<Self>, group: &anyhow::Result<()>) {
        let outcome = match (group, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Err(_), Some(Ok(output))) if W::stands_without_commit(&output) => Ok(output),
            (Err(e), _) => Err(anyhow::anyhow!("{e:#}")),
            (Ok(()), None) => Err(anyhow::anyhow!("a grouped write lost its outcome")),
        };
        let _ = self.answer.send(outcome);
    }
}

async fn run(
    write: Pool,
    mut requests: mpsc::UnboundedReceiver<Box<dyn Queued>>,
    metrics: Arc<Metrics>,
) {
    // `recv_many` waits for one request, then takes whatever else is queued (up to the max).
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics.group_commit(batch.len());
        commit_batch(&write, std::mem::take(&mut batch)).await;
    }
}

/// One transaction for the whole group; answers after `COMMIT`.
#[tracing::instrument(skip_all, fields(batch = batch.len()))]
async fn commit_batch(write: &Pool, mut batch: Vec<Box<dyn Queued>>) {
    let committed = match write_batch(write, &mut batch, false).await {
        Some(committed) => committed,
        None => write_batch(write, &mut batch, true)
            .await
            .unwrap_or_else(|| {
                Err(anyhow::anyhow!(
                    "a group written in savepoints asked to be written again"
                ))
            }),
    };
    for pending in batch {
        pending.answer(&committed);
    }
}

/// Writes `batch` in one transaction and commits it: whether the commit succeeded. With
/// `in_savepoints`, each write that does not undo itself is written in its own savepoint;
/// without, a failing one rolls back the whole transaction and `None` is returned, for the
/// group to be written again with them.
async fn write_batch(
    write: &Pool,
    batch: &mut [Box<dyn Queued>],
    in_savepoints: bool,
) -> Option<anyhow::Result<()>> {
    let mut tx = match write.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return Some(Err(anyhow::anyhow!("beginning a transaction: {e}"))),
    };
    for pending in batch.iter_mut() {
        if pending.undoes_itself() {
            pending.perform(&mut tx).await;
        } else if in_savepoints {
            let in_savepoint = async {
                let mut savepoint = tx.begin().await?;
                // A failure is undone alone: dropping the savepoint rolls back to it.
                if !pending.perform(&mut savepoint).await {
                    savepoint.commit().await?;
                }
                anyhow::Ok(())
            };
            if let Err(e) = in_savepoint.await {
                pending.fail(e);
            }
        } else if pending.perform(&mut tx).await {
            tracing::warn!(
                "a write failed in its group; writing the group again, each write in a savepoint"
            );
            if let Err(e) = tx.rollback().await {
                tracing::warn!(error = %e, "rolling back a group of writes");
            }
            return None;
        }
    }
    Some(
        tx.commit()
            .await
            .map_err(|e| anyhow::anyhow!("committing a group of writes: {e}")),
    )
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
