//! Recording the end of a refresh: accounts, movement diffs, per-account results, the intent's
//! final state, the link's fields and the events they cause, in ONE transaction fenced by the
//! worker's lease. Running the same refresh twice (a worker died after the bank answered) gives
//! the same rows, because movements are matched by the bank's own identity.
//!
//! [`Store::finish_refresh`] is the one entry. Its parts, in the order a recording runs them:
//! - [`prepare`]: what it reads first, on a reader (the link's accounts, each fetched account's
//!   diff against its stored movements);
//! - [`write`]: the grouped write itself, fenced by the lease (see `group_commit`);
//! - [`accounts`]: the link's accounts as the bank lists them now;
//! - [`apply`]: each modified or removed movement's update;
//! - [`script`]: the writes that need nothing read back (accounts, new movements, results, the
//!   intent's and link's final state), one script on SQLite;
//! - [`results`]: the per-account results and the recorded refresh the events are made from.

mod accounts;
mod apply;
mod prepare;
mod results;
mod script;
mod write;

use super::jobs::ClaimedJob;
use super::Store;
use crate::domain::*;
use prepare::Prepared;
use write::Recording;

impl Store {
    /// Holds back every recording until the returned guard is dropped, as a database busy with
    /// other refreshes' recordings would (tests use it to show that a waiting recording keeps
    /// its lease).
    pub async fn hold_recordings(&self) -> anyhow::Result<tokio::sync::OwnedSemaphorePermit> {
        let all = u32::try_from(self.recorders_max)?;
        Ok(self.recorders.clone().acquire_many_owned(all).await?)
    }

    /// Records the outcome of a refresh and its events; `Ok(None)` when the lease was lost
    /// (nothing written). On SQLite the group writer commits recordings that wait together in
    /// one transaction (one fsync for the group), each in its own savepoint.
    ///
    /// What the recording reads (the link's accounts, the stored movements its diff needs) is
    /// read first, on a reader, so that the one writer, which every write waits for, only
    /// writes.
    /// Nothing read can change before the write: a link's accounts and movements are written
    /// only when the link is created and by recordings; a link has one refresh in progress at
    /// a time (`refresh_intents_one_in_progress`), the previous one's recording committed
    /// before this intent was created, and of the workers that ever held this job's lease,
    /// only the one holding it at the write passes the fence. Its claim committed before this
    /// read, so a recording by an earlier holder is either seen here or fenced off.
    #[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
    pub async fn finish_refresh(
        &self,
        job: &ClaimedJob,
        link_id: &LinkId,
        mut outcome: RefreshOutcome,
        make_events: EventMaker,
    ) -> anyhow::Result<Option<RecordedCounts>> {
        let _turn = self.recorders.acquire().await?;
        let prepared = match &mut outcome.accounts {
            Some(fetches) => {
                let mut reader = self.read.acquire().await?;
                Some(Prepared::read(&mut reader, link_id, fetches).await?)
            }
            None => None,
        };
        let recording = Recording {
            job: job.clone(),
            link_id: link_id.clone(),
            outcome,
            prepared,
            make_events,
        };
        self.write_grouped(recording).await
    }
}
