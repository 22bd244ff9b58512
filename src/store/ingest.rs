//! Recording the end of a refresh: accounts, movement diffs, per-account results, the intent's
//! final state and the link's fields, in ONE transaction fenced by the worker's lease.
//! Running the same refresh twice (a worker died after the bank answered) gives the same rows,
//! because movements are matched by the bank's own identity.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

use super::jobs::ClaimedJob;
use super::links::LINK_COLUMNS;
use super::recorded::{read_recorded, EventMaker};
use super::refresh::{intent_from_row, INTENT_COLUMNS};
use super::rows::{
    account_from_row, bind_account_data, date_to_millis, link_from_row, movement_data_from_row,
    transfer_to_column,
};
use super::{flag, id_list, placeholders, Store};

/// Rows per multi-row `INSERT` of results or changes.
const ROWS_PER_INSERT: usize = 256;
use crate::domain::ingest::{diff_movements, StoredMovement};
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
    #[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
    pub async fn finish_refresh(
        &self,
        job: &ClaimedJob,
        link_id: &LinkId,
        outcome: RefreshOutcome,
        make_events: EventMaker,
    ) -> anyhow::Result<Option<RecordedCounts>> {
        let _turn = self.recorders.acquire().await?;
        let recording = Recording {
            job: job.clone(),
            link_id: link_id.clone(),
            outcome,
            make_events,
        };
        if let Some(writer) = &self.group_writer {
            return writer.record(recording).await;
        }
        let mut tx = self.begin().await?;
        let recorded = recording.write(&mut tx).await?;
        if recorded.is_some() {
            tx.commit().await?;
        }
        Ok(recorded)
    }
}

/// One refresh's outcome, to be written.
pub(super) struct Recording {
    job: ClaimedJob,
    link_id: LinkId,
    outcome: RefreshOutcome,
    make_events: EventMaker,
}

impl Recording {
    /// Writes the recording on `conn`, inside a transaction (or savepoint) the caller commits;
    /// `Ok(None)` when the lease was lost and nothing was written.
    pub(super) async fn write(
        &self,
        conn: &mut AnyConnection,
    ) -> anyhow::Result<Option<RecordedCounts>> {
        let Recording {
            job,
            link_id,
            outcome,
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
        match &outcome.accounts {
            Some(fetches) => {
                let mut known = LinkAccounts::read(&mut *conn, link_id).await?;
                let listed: Vec<&str> =
                    fetches.iter().map(|f| f.account.bank_id.as_str()).collect();
                known.mark_unlisted_removed(&mut *conn, &listed).await?;
                let mut accounts = Vec::with_capacity(fetches.len());
                for fetch in fetches {
                    let ok = fetch.movements.is_ok();
                    let account = known
                        .upsert(
                            &mut *conn,
                            link_id,
                            &fetch.account,
                            account_status(ok),
                            ok.then_some(now),
                            outcome.next_refresh.filter(|_| ok),
                        )
                        .await?;
                    accounts.push(account);
                }
                let answered: Vec<(&AccountId, &FetchedMovements)> = accounts
                    .iter()
                    .zip(fetches)
                    .filter_map(|(account, fetch)| {
                        fetch.movements.as_ref().ok().map(|m| (&account.id, m))
                    })
                    .collect();
                let mut applied = apply_movements(&mut *conn, &answered, now)
                    .await?
                    .into_iter();
                for (account, fetch) in accounts.into_iter().zip(fetches) {
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
                        account,
                        status,
                        error,
                        counts,
                        changes,
                    });
                }
            }
            None => {
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
                    results.push(AccountResult {
                        account: account_from_row(row)?,
                        status: outcome.status,
                        error: outcome.public_error,
                        counts: RecordedCounts::default(),
                        changes: Vec::new(),
                    });
                }
            }
        }
        let result_ids = insert_results(&mut *conn, &job.intent_id, &results, now).await?;
        let results = result_ids
            .into_iter()
            .zip(results)
            .map(|(id, r)| (id, r.account, r.status, r.error, r.counts.new, r.changes))
            .collect();

        let intent_row = sqlx::query(&format!(
            "UPDATE refresh_intents SET status = $1, new_movements = $2, public_error = $3,
                 failure_reason = $4, finished_at = $5, mfa_challenge = NULL, mfa_session = NULL
             WHERE id = $6 RETURNING {INTENT_COLUMNS}"
        ))
        .bind(outcome.status.as_str())
        .bind(totals.new)
        .bind(outcome.public_error.map(PublicError::as_str))
        .bind(outcome.failure_reason.as_deref())
        .bind(now)
        .bind(job.intent_id.as_str())
        .fetch_one(&mut *conn)
        .await?;
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
        let link_status = account_status(succeeded);
        let link_row = sqlx::query(&format!(
            "UPDATE links SET refresh_status = $1,
                 last_time_refreshed = CASE WHEN $2 = 1 THEN $3 ELSE last_time_refreshed END,
                 credential_status = COALESCE($4, credential_status),
                 refresh_count = refresh_count + 1
             WHERE id = $5 RETURNING {LINK_COLUMNS}"
        ))
        .bind(link_status.as_str())
        .bind(flag(succeeded))
        .bind(now)
        .bind(outcome.credential_status.map(CredentialStatus::as_str))
        .bind(link_id.as_str())
        .fetch_one(&mut *conn)
        .await?;

        // What was just written, as the events describe it (no second read of any row).
        let recorded = read_recorded(
            &mut *conn,
            intent_from_row(&intent_row)?,
            link_from_row(&link_row)?,
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
            outcome.finished_at,
        )
        .await?;
        Ok(Some(totals))
    }
}

/// A link's accounts as stored when the recording began (read once: which the bank no longer
/// lists, which it lists again, and where a new one goes).
struct LinkAccounts {
    /// (id, bank id, listed on the link).
    stored: Vec<(String, String, bool)>,
    /// Position of the next new account.
    next_position: i64,
}

impl LinkAccounts {
    async fn read(conn: &mut AnyConnection, link_id: &LinkId) -> anyhow::Result<Self> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, bank_id, position, removed_from_link FROM accounts WHERE link_id = $1",
        )
        .bind(link_id.as_str())
        .fetch_all(&mut *conn)
        .await?;
        let next_position = rows.iter().map(|r| r.2 + 1).max().unwrap_or(0);
        let stored = rows
            .into_iter()
            .map(|(id, bank_id, _, removed)| (id, bank_id, removed == 0))
            .collect();
        Ok(Self {
            stored,
            next_position,
        })
    }

    /// Marks removed the accounts still on the link that the bank did not list.
    async fn mark_unlisted_removed(
        &self,
        conn: &mut AnyConnection,
        listed: &[&str],
    ) -> anyhow::Result<()> {
        for (id, bank_id, on_link) in &self.stored {
            if *on_link && !listed.contains(&bank_id.as_str()) {
                sqlx::query(
                    "UPDATE accounts SET removed_from_link = 1, next_refresh = NULL WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    }

    /// Updates an account by the bank's identity, or adds it after the others; returns it as
    /// stored now.
    async fn upsert(
        &mut self,
        conn: &mut AnyConnection,
        link_id: &LinkId,
        account: &AccountData,
        status: RefreshStatus,
        refreshed_at: Option<i64>,
        next_refresh: Option<Timestamp>,
    ) -> anyhow::Result<Account> {
        let existing = self
            .stored
            .iter()
            .find(|(_, bank_id, _)| *bank_id == account.bank_id)
            .map(|(id, _, _)| AccountId::from_trusted(id.clone()));
        let id = match existing {
            Some(id) => id,
            None => {
                let id = AccountId::generate();
                sqlx::query(
                    "INSERT INTO accounts (id, link_id, bank_id, position, name, official_name,
                        number, holder_id, holder_name, account_type, currency,
                        balance_available, balance_current, balance_limit, refresh_status,
                        removed_from_link, created_at)
                     VALUES ($1, $2, $3, $4, '', '', '', '', '', '', '', 0, 0, 0, $5, 0, $6)",
                )
                .bind(id.as_str())
                .bind(link_id.as_str())
                .bind(&account.bank_id)
                .bind(self.next_position)
                .bind(status.as_str())
                .bind(Timestamp::now().millis())
                .execute(&mut *conn)
                .await?;
                self.next_position += 1;
                self.stored
                    .push((id.to_string(), account.bank_id.clone(), true));
                id
            }
        };
        let query = sqlx::query(
            "UPDATE accounts SET name = $1, official_name = $2, number = $3, holder_id = $4,
                 holder_name = $5, account_type = $6, currency = $7, balance_available = $8,
                 balance_current = $9, balance_limit = $10, refresh_status = $11,
                 refreshed_at = COALESCE($12, refreshed_at),
                 next_refresh = COALESCE($13, next_refresh), removed_from_link = 0
             WHERE id = $14 RETURNING *",
        );
        let row = bind_account_data(query, account)
            .bind(status.as_str())
            .bind(refreshed_at)
            .bind(next_refresh.map(Timestamp::millis))
            .bind(id.as_str())
            .fetch_one(&mut *conn)
            .await?;
        account_from_row(&row)
    }
}

/// Diffs each answered account's stored movements against its fetch and applies the
/// differences: one read of every account's stored movements and one insert of every new
/// movement, whatever the number of accounts. Returns (counts, changes) per account, in order.
async fn apply_movements(
    conn: &mut AnyConnection,
    answered: &[(&AccountId, &FetchedMovements)],
    now: i64,
) -> anyhow::Result<Vec<(RecordedCounts, Vec<(MovementId, &'static str)>)>> {
    if answered.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM movements WHERE account_id IN ({})",
        id_list(answered.len(), 1)
    );
    let mut query = sqlx::query(&sql);
    for (account_id, _) in answered {
        query = query.bind(account_id.as_str());
    }
    let mut stored: HashMap<String, Vec<StoredMovement>> = HashMap::new();
    for row in query.fetch_all(&mut *conn).await? {
        stored
            .entry(row.try_get("account_id")?)
            .or_default()
            .push(StoredMovement {
                id: MovementId::from_trusted(row.try_get("id")?),
                data: movement_data_from_row(&row)?,
                removed: row.try_get::<Option<i64>, _>("removed_at")?.is_some(),
            });
    }
    let mut new = Vec::new();
    let mut applied = Vec::with_capacity(answered.len());
    for &(account_id, fetched) in answered {
        let diff = diff_movements(
            stored
                .get(account_id.as_str())
                .map_or(&[][..], Vec::as_slice),
            fetched.movements.clone(),
            fetched.since,
            fetched.until,
        );
        let mut changes = Vec::new();
        for (id, data) in &diff.modified {
            sqlx::query(
                "UPDATE movements SET amount = $1, currency = $2, description = $3, post_date = $4,
                 transaction_date = $5, movement_type = $6, status = $7, pending = $8,
                 reference_id = $9, comment = $10, sender_account = $11, recipient_account = $12,
                 removed_at = NULL, updated_at = $13
             WHERE id = $14",
            )
            .bind(data.amount)
            .bind(&data.currency)
            .bind(&data.description)
            .bind(date_to_millis(data.post_date))
            .bind(data.transaction_date.map(Timestamp::millis))
            .bind(&data.movement_type)
            .bind(&data.status)
            .bind(flag(data.pending))
            .bind(&data.reference_id)
            .bind(&data.comment)
            .bind(transfer_to_column(&data.sender_account))
            .bind(transfer_to_column(&data.recipient_account))
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
            changes.push((id.clone(), "modified"));
        }
        for id in &diff.removed {
            sqlx::query("UPDATE movements SET removed_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
            changes.push((id.clone(), "removed"));
        }
        let counts = RecordedCounts {
            new: i64::try_from(diff.new.len())?,
            modified: i64::try_from(diff.modified.len())?,
            removed: i64::try_from(diff.removed.len())?,
        };
        new.extend(diff.new.into_iter().map(|movement| (account_id, movement)));
        applied.push((counts, changes));
    }
    let rows: Vec<(&AccountId, &MovementData)> = new.iter().map(|(a, m)| (*a, m)).collect();
    Store::insert_movements(conn, &rows, now).await?;
    Ok(applied)
}

/// One account's result, before it is written.
struct AccountResult {
    account: Account,
    status: IntentStatus,
    error: Option<PublicError>,
    counts: RecordedCounts,
    changes: Vec<(MovementId, &'static str)>,
}

/// Writes every account's result and its movement changes (two statements whatever the
/// number of accounts); returns the results' ids, in order.
async fn insert_results(
    conn: &mut AnyConnection,
    intent_id: &RefreshIntentId,
    results: &[AccountResult],
    now: i64,
) -> anyhow::Result<Vec<RefreshIntentId>> {
    let ids: Vec<RefreshIntentId> = results
        .iter()
        .map(|_| RefreshIntentId::generate())
        .collect();
    let rows: Vec<(&RefreshIntentId, &AccountResult)> = ids.iter().zip(results).collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO account_refresh_results (id, refresh_intent_id, account_id, status,
                 public_error, new_movements, modified_movements, removed_movements, created_at)
             VALUES {}",
            placeholders(chunk.len(), 9, 0)
        );
        let mut query = sqlx::query(&sql);
        for (id, result) in chunk {
            query = query
                .bind(id.as_str())
                .bind(intent_id.as_str())
                .bind(result.account.id.as_str())
                .bind(result.status.as_str())
                .bind(result.error.map(PublicError::as_str))
                .bind(result.counts.new)
                .bind(result.counts.modified)
                .bind(result.counts.removed)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    let changes: Vec<(&RefreshIntentId, &MovementId, &str)> = rows
        .iter()
        .flat_map(|(id, result)| {
            result
                .changes
                .iter()
                .map(move |(movement_id, change)| (*id, movement_id, *change))
        })
        .collect();
    for chunk in changes.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO movement_changes (account_result_id, movement_id, change) VALUES {}",
            placeholders(chunk.len(), 3, 0)
        );
        let mut query = sqlx::query(&sql);
        for (result_id, movement_id, change) in chunk {
            query = query
                .bind(result_id.as_str())
                .bind(movement_id.as_str())
                .bind(*change);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(ids)
}
