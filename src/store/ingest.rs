//! Recording the end of a refresh: accounts, movement diffs, per-account results, the intent's
//! final state and the link's fields, in ONE transaction fenced by the worker's lease.
//! Running the same refresh twice (a worker died after the bank answered) gives the same rows,
//! because movements are matched by the bank's own identity.

use chrono::NaiveDate;
use sqlx::AnyConnection;

use super::accounts::{updated_in_order, AccountUpdate, LinkAccounts};
use super::group_commit::GroupedWrite;
use super::jobs::ClaimedJob;
use super::main_writes::{Finish, MainWrites};
use super::movements::{apply_diffs, diff_fetched};
use super::recorded::{insert_changes, read_recorded, AccountResult, EventMaker};
use super::refresh::intent_from_row;
use super::rows::{account_from_row, link_from_row};
use super::Store;
use crate::domain::ingest::MovementDiff;
use crate::domain::*;

/// The movements the bank returned for one account.
#[derive(Debug)]
pub struct FetchedMovements {
    /// First day the bank answered for (removals are judged only from here on).
    pub since: NaiveDate,
    /// Last day asked for.
    pub until: NaiveDate,
    /// What the bank returned.
    pub movements: Vec<MovementData>,
}

/// One account as a refresh saw it.
#[derive(Debug)]
pub struct AccountFetch {
    /// The bank's data of the account.
    pub account: AccountData,
    /// Its movements, or why they could not be read.
    pub movements: Result<FetchedMovements, PublicError>,
}

/// How a refresh ended.
#[derive(Debug)]
pub struct RefreshOutcome {
    /// Final status.
    pub status: IntentStatus,
    /// Fintoc's reason when not succeeded.
    pub public_error: Option<PublicError>,
    /// Our reason, for people.
    pub failure_reason: Option<String>,
    /// The accounts the bank listed, or `None` when it was not reached (every known account
    /// then gets the intent's outcome).
    pub accounts: Option<Vec<AccountFetch>>,
    /// New credential status of the link, when the bank judged them.
    pub credential_status: Option<CredentialStatus>,
    /// When the refresh ended.
    pub finished_at: Timestamp,
    /// Earliest next refresh (for `next_refresh`), after a success.
    pub next_refresh: Option<Timestamp>,
}

impl RefreshOutcome {
    /// A success decided without reaching the bank (test mode's forced result): every account
    /// the link has gets it, and the credentials are left as they are.
    pub fn succeeded_without_fetch(next_refresh: Option<Timestamp>) -> Self {
        Self {
            status: IntentStatus::Succeeded,
            public_error: None,
            failure_reason: None,
            accounts: None,
            credential_status: None,
            finished_at: Timestamp::now(),
            next_refresh,
        }
    }
}

/// What recording produced, per account (for logs and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordedCounts {
    /// Movements created.
    pub new: i64,
    /// Movements modified.
    pub modified: i64,
    /// Movements removed.
    pub removed: i64,
}

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
    /// read first, on a reader, so that the one writer only writes (BENCHMARKS.md, change 41).
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

/// What a recording reads before it writes (see `Store::finish_refresh`).
#[derive(Debug)]
struct Prepared {
    /// The link's accounts.
    known: LinkAccounts,
    /// Per fetched account, in order: its diff, or `None` when its movements were not read.
    diffs: Vec<Option<MovementDiff>>,
}

impl Prepared {
    /// Reads the link's accounts and diffs each answered fetch against its stored movements
    /// (the fetched movements move into the diffs).
    async fn read(
        conn: &mut AnyConnection,
        link_id: &LinkId,
        fetches: &mut [AccountFetch],
    ) -> anyhow::Result<Self> {
        let known = LinkAccounts::read(&mut *conn, link_id).await?;
        let ids: Vec<Option<AccountId>> = fetches
            .iter()
            .map(|fetch| known.id_of(&fetch.account.bank_id))
            .collect();
        let mut answered: Vec<(Option<&AccountId>, &mut FetchedMovements)> = ids
            .iter()
            .zip(fetches.iter_mut())
            .filter_map(|(id, fetch)| fetch.movements.as_mut().ok().map(|m| (id.as_ref(), m)))
            .collect();
        let mut diffs = diff_fetched(conn, &mut answered).await?.into_iter();
        let diffs = fetches
            .iter()
            .map(|fetch| fetch.movements.is_ok().then(|| diffs.next()).flatten())
            .collect();
        Ok(Self { known, diffs })
    }
}

/// One refresh's outcome, to be written.
pub(super) struct Recording {
    job: ClaimedJob,
    link_id: LinkId,
    outcome: RefreshOutcome,
    /// Read before, when the bank listed accounts.
    prepared: Option<Prepared>,
    make_events: EventMaker,
}

impl GroupedWrite for Recording {
    type Output = Option<RecordedCounts>;

    /// Writes the recording on `conn`, inside a transaction (or savepoint) the caller commits;
    /// `Ok(None)` when the lease was lost and nothing was written.
    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Option<RecordedCounts>> {
        let Recording {
            job,
            link_id,
            outcome,
            prepared,
            make_events,
        } = self;
        let now = outcome.finished_at.millis();
        // The fence: only the lease holder can move its job to done.
        let fenced = sqlx::query(
            "UPDATE refresh_jobs SET state = 'done', lease_token = NULL, lease_owner = NULL,
                 lease_expires_at = NULL, updated_at = $1
             WHERE intent_id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(job.intent_id.as_str())
        .bind(&job.lease_token)
        .execute(&mut *conn)
        .await?;
        if fenced.rows_affected() != 1 {
            tracing::warn!("lease lost before recording; nothing written");
            return Ok(None);
        }

        let succeeded = outcome.status == IntentStatus::Succeeded;
        let account_status = |ok: bool| match (ok, outcome.status) {
            (true, _) => RefreshStatus::Refreshed,
            (false, IntentStatus::Rejected) => RefreshStatus::Interrupted,
            _ => RefreshStatus::Failed,
        };
        let mut totals = RecordedCounts::default();
        let mut results = Vec::new();
        let account_ids: Vec<AccountId>;
        let mut updates = Vec::new();
        let mut new_movements = Vec::new();
        // Without a fetch: the accounts the link still has, as they are after the update.
        let mut unfetched = Vec::new();
        match &outcome.accounts {
            Some(fetches) => {
                let Prepared { known, diffs } = prepared
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("a recording's accounts were not read"))?;
                let mut known = known.clone();
                let listed: Vec<&str> =
                    fetches.iter().map(|f| f.account.bank_id.as_str()).collect();
                known.mark_unlisted_removed(&mut *conn, &listed).await?;
                updates = fetches
                    .iter()
                    .map(|fetch| {
                        let ok = fetch.movements.is_ok();
                        AccountUpdate {
                            data: &fetch.account,
                            status: account_status(ok),
                            refreshed_at: ok.then_some(now),
                            next_refresh: outcome.next_refresh.filter(|_| ok),
                        }
                    })
                    .collect();
                account_ids = known.ids_for(&mut *conn, link_id, &updates).await?;
                let answered: Vec<(&AccountId, &MovementDiff)> = account_ids
                    .iter()
                    .zip(diffs)
                    .filter_map(|(id, diff)| diff.as_ref().map(|diff| (id, diff)))
                    .collect();
                let applied = apply_diffs(&mut *conn, &answered, now).await?;
                new_movements = applied.new;
                let mut applied = applied.per_account.into_iter();
                for (account_id, fetch) in account_ids.iter().zip(fetches) {
                    let (counts, changes, status, error) = match &fetch.movements {
                        Ok(_) => {
                            let (counts, changes) = applied
                                .next()
                                .ok_or_else(|| anyhow::anyhow!("an account was not applied"))?;
                            (counts, changes, IntentStatus::Succeeded, None)
                        }
                        Err(e) => (RecordedCounts::default(), Vec::new(), e.status(), Some(*e)),
                    };
                    totals.new += counts.new;
                    totals.modified += counts.modified;
                    totals.removed += counts.removed;
                    results.push(AccountResult {
                        account_id: account_id.clone(),
                        status,
                        error,
                        counts,
                        changes,
                    });
                }
            }
            None => {
                account_ids = Vec::new();
                // Every account the link still has gets the intent's outcome.
                sqlx::query(
                    "UPDATE accounts SET refresh_status = $1
                     WHERE link_id = $2 AND removed_from_link = 0",
                )
                .bind(account_status(succeeded).as_str())
                .bind(link_id.as_str())
                .execute(&mut *conn)
                .await?;
                let rows = sqlx::query(
                    "SELECT * FROM accounts WHERE link_id = $1 AND removed_from_link = 0
                     ORDER BY position",
                )
                .bind(link_id.as_str())
                .fetch_all(&mut *conn)
                .await?;
                for row in &rows {
                    let account = account_from_row(row)?;
                    results.push(AccountResult {
                        account_id: account.id.clone(),
                        status: outcome.status,
                        error: outcome.public_error,
                        counts: RecordedCounts::default(),
                        changes: Vec::new(),
                    });
                    unfetched.push(account);
                }
            }
        }

        // Only a refresh that finds the credentials refused can change them from active.
        let credentials_changed =
            if outcome.credential_status == Some(CredentialStatus::LoginRequired) {
                let before: String =
                    sqlx::query_scalar("SELECT credential_status FROM links WHERE id = $1")
                        .bind(link_id.as_str())
                        .fetch_one(&mut *conn)
                        .await?;
                before == CredentialStatus::Active.as_str()
            } else {
                false
            };
        let result_ids: Vec<RefreshIntentId> = results
            .iter()
            .map(|_| RefreshIntentId::generate())
            .collect();
        let writes = MainWrites {
            accounts: account_ids.iter().zip(&updates).collect(),
            movements: new_movements,
            intent_id: &job.intent_id,
            result_ids: &result_ids,
            results: &results,
            finish: Finish {
                outcome,
                link_status: account_status(succeeded),
                new_movements: totals.new,
                intent_id: &job.intent_id,
                link_id,
            },
            now,
        };
        let written = writes.write(&mut *conn).await?;
        insert_changes(&mut *conn, &result_ids, &results).await?;
        let accounts = match outcome.accounts {
            Some(_) => updated_in_order(&written.accounts, &account_ids)?,
            None => unfetched,
        };
        let results = result_ids
            .into_iter()
            .zip(results)
            .zip(accounts)
            .map(|((id, r), account)| (id, account, r.status, r.error, r.counts.new, r.changes))
            .collect();
        let recorded = read_recorded(
            &mut *conn,
            intent_from_row(&written.intent)?,
            link_from_row(&written.link)?,
            results,
            credentials_changed,
        )
        .await?;
        let events = make_events(&recorded)?;
        super::events::insert_events(
            &mut *conn,
            &recorded.intent.organization_id,
            recorded.intent.mode,
            &events,
            &written.subscriptions,
            outcome.finished_at,
        )
        .await?;
        Ok(Some(totals))
    }
}
