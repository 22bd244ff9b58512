//! Records finished attempts in batches: every attempt that finishes while the previous batch
//! is committing goes into the next one, so a busy dispatcher pays one commit (one fsync on
//! SQLite) per batch instead of per attempt, and a lone attempt waits for nobody. A caller is
//! answered only after its batch committed, so an attempt that was answered is durable.

use tokio::sync::{mpsc, oneshot};

use crate::domain::Attempt;
use crate::store::{AfterAttempt, DueDelivery, Store};

/// Attempts per transaction at most.
const MAX_BATCH: usize = 256;

struct Finished {
    delivery: DueDelivery,
    attempt: Attempt,
    next: AfterAttempt,
    answer: oneshot::Sender<anyhow::Result<bool>>,
}

/// A handle to the recording task; it ends when every handle is gone.
#[derive(Clone)]
pub struct AttemptRecorder {
    queue: mpsc::UnboundedSender<Finished>,
}

impl AttemptRecorder {
    /// Starts the recording task over `store` (needs a Tokio runtime).
    pub fn start(store: Store) -> Self {
        let (queue, finished) = mpsc::unbounded_channel();
        tokio::spawn(run(store, finished));
        Self { queue }
    }

    /// Records `attempt` of `delivery` and what follows it in the next batch; false when the
    /// delivery's lease was lost (nothing written).
    pub async fn record(
        &self,
        delivery: DueDelivery,
        attempt: Attempt,
        next: AfterAttempt,
    ) -> anyhow::Result<bool> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Finished {
                delivery,
                attempt,
                next,
                answer,
            })
            .map_err(|_| anyhow::anyhow!("the attempt recorder has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("the attempt recorder dropped an attempt"))?
    }
}

async fn run(store: Store, mut finished: mpsc::UnboundedReceiver<Finished>) {
    // `recv_many` waits for one attempt, then takes whatever else is queued (up to the max).
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while finished.recv_many(&mut queued, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut queued);
        let entries: Vec<_> = batch
            .iter()
            .map(|f| (&f.delivery, &f.attempt, f.next))
            .collect();
        match store.record_attempts(&entries).await {
            Ok(recorded) => {
                for (f, ok) in batch.into_iter().zip(recorded) {
                    let _ = f.answer.send(Ok(ok));
                }
            }
            // Nothing of the batch was written; the deliveries keep their leases and are
            // attempted again once those expire.
            Err(e) => {
                let message = format!("{e:#}");
                for f in batch {
                    let _ = f
                        .answer
                        .send(Err(anyhow::anyhow!("recording attempts: {message}")));
                }
            }
        }
    }
}
