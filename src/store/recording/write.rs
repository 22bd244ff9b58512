//! The recording's grouped write: the fence, then every write of the refresh and its events.

use sqlx::AnyConnection;

use super::accounts::{updated_in_order, AccountUpdate};
use super::apply::apply_diffs;
use super::prepare::Prepared;
use super::results::{insert_changes, read_recorded, AccountResult, WrittenResult};
use super::script::{Finish, MainWrites};
use crate::domain::ingest::MovementDiff;
use crate::domain::*;
use crate::store::group_commit::GroupedWrite;
use crate::store::intents::intent_from_row;
use crate::store::jobs::ClaimedJob;
use crate::store::rows::{account_from_row, link_from_row};

/// One refresh's outcome, to be written.
pub(super) struct Recording {
    pub(super) job: ClaimedJob,
    pub(super) link_id: LinkId,
    pub(super) outcome: RefreshOutcome,
    /// Read before, when the bank listed accounts.
    pub(super) prepared: Option<Prepared>,
    pub(super) make_events: EventMaker,
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

        // A link deactivated or deleted while the bank was asked ends the refresh here, in the
        // transaction that would record it. On PostgreSQL the link's row is locked first, so a
        // deactivation committing meanwhile is either seen here or waits for this commit.
        let ended;
        let outcome = if link_is_live(&mut *conn, link_id).await? {
            outcome
        } else {
            ended = RefreshOutcome::link_inactive(outcome.finished_at);
            &ended
        };
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
            .map(|((id, result), account)| WrittenResult {
                id,
                account,
                result,
            })
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
        crate::store::events::insert_events(
            &mut *conn,
            &recorded.intent.organization_id,
            recorded.intent.mode,
            &events,
            &written.subscriptions,
        )
        .await?;
        Ok(Some(totals))
    }
}

/// Whether the link is active and not deleted; on PostgreSQL its row stays locked until the
/// caller's transaction ends (SQLite has one writer, so nothing changes it meanwhile).
async fn link_is_live(conn: &mut AnyConnection, link_id: &LinkId) -> anyhow::Result<bool> {
    let sql = if crate::store::is_sqlite(conn) {
        "SELECT 1 FROM links WHERE id = $1 AND active = 1 AND deleted_at IS NULL"
    } else {
        "SELECT 1 FROM links WHERE id = $1 AND active = 1 AND deleted_at IS NULL FOR UPDATE"
    };
    let row = sqlx::query(sql)
        .bind(link_id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}
