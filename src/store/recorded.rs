//! A refresh's per-account results: written by its recording, put together inside that
//! transaction so its events are made from exactly what was written, and read back later.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::ingest::RecordedCounts;
use super::movements::movements_where;
use super::rows::{AnyQuery, MovementRow};
use super::{id_list, insert_rows, Dialect, Store};
use crate::domain::*;

/// One account's part of a recorded refresh, as committed.
#[derive(Debug)]
pub struct RecordedAccount {
    /// The account-level result's id (`ri_…`).
    pub result_id: RefreshIntentId,
    /// The account after the refresh.
    pub account: Account,
    /// Its outcome.
    pub status: IntentStatus,
    /// Why it failed.
    pub public_error: Option<PublicError>,
    /// Movements created.
    pub new_movements: i64,
    /// Movements the bank changed (as stored now).
    pub modified: Vec<Movement>,
    /// Movements the bank removed.
    pub removed: Vec<Movement>,
}

/// A refresh as committed, from which its events are made (inside the same transaction).
#[derive(Debug)]
pub struct RecordedRefresh {
    /// The intent in its final state.
    pub intent: RefreshIntent,
    /// The link after the refresh.
    pub link: Link,
    /// One entry per account result.
    pub accounts: Vec<RecordedAccount>,
    /// The link's credentials stopped working with this refresh.
    pub credentials_changed: bool,
}

/// Makes the events of a recorded refresh. The store calls it inside the recording
/// transaction, so the events commit (or roll back) with the change.
pub type EventMaker = Box<dyn Fn(&RecordedRefresh) -> anyhow::Result<Vec<NewEvent>> + Send + Sync>;

pub(super) type ResultRow = (
    RefreshIntentId,
    Account,
    IntentStatus,
    Option<PublicError>,
    i64,
    Vec<(MovementId, &'static str)>,
);

/// Puts together what the refresh wrote (the intent, link and accounts as their updates
/// returned them), reading only the movements it modified or removed.
pub(super) async fn read_recorded(
    conn: &mut AnyConnection,
    intent: RefreshIntent,
    link: Link,
    results: Vec<ResultRow>,
    credentials_changed: bool,
) -> anyhow::Result<RecordedRefresh> {
    let mut changed = changed_movements(conn, &results).await?;
    let mut accounts = Vec::with_capacity(results.len());
    for (result_id, account, status, public_error, new_movements, changes) in results {
        let mut modified = Vec::new();
        let mut removed = Vec::new();
        for (movement_id, change) in changes {
            let movement = changed
                .remove(movement_id.as_str())
                .ok_or_else(|| anyhow::anyhow!("changed movement {movement_id} not found"))?;
            if change == "removed" {
                removed.push(movement);
            } else {
                modified.push(movement);
            }
        }
        accounts.push(RecordedAccount {
            result_id,
            account,
            status,
            public_error,
            new_movements,
            modified,
            removed,
        });
    }
    Ok(RecordedRefresh {
        intent,
        link,
        accounts,
        credentials_changed,
    })
}

/// The movements a recording modified or removed, as stored now, by id (a few statements
/// whatever their number).
async fn changed_movements(
    conn: &mut AnyConnection,
    results: &[ResultRow],
) -> anyhow::Result<HashMap<String, Movement>> {
    let ids: Vec<&str> = results
        .iter()
        .flat_map(|result| result.5.iter().map(|(id, _)| id.as_str()))
        .collect();
    let mut changed = HashMap::with_capacity(ids.len());
    // Ids travel as bound parameters, which both engines limit in number.
    for chunk in ids.chunks(1000) {
        let sql = movements_where(
            Dialect::of(conn),
            &format!("id IN ({})", id_list(chunk.len(), 1)),
        );
        let mut query = sqlx::query_scalar(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        let rows: String = query.fetch_one(&mut *conn).await?;
        for row in MovementRow::parse_all(&rows)? {
            let movement = row.into_movement()?;
            changed.insert(movement.id.as_str().to_owned(), movement);
        }
    }
    Ok(changed)
}

impl Store {
    /// Per-account results of an intent: (account id, status, public_error, new, modified,
    /// removed), in account order.
    pub async fn account_results(
        &self,
        intent_id: &RefreshIntentId,
    ) -> anyhow::Result<Vec<(AccountId, IntentStatus, Option<PublicError>, i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT r.account_id, r.status, r.public_error, r.new_movements, r.modified_movements,
                    r.removed_movements
             FROM account_refresh_results r JOIN accounts a ON a.id = r.account_id
             WHERE r.refresh_intent_id = $1 ORDER BY a.position",
        )
        .bind(intent_id.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let error: Option<String> = row.try_get("public_error")?;
                Ok((
                    AccountId::from_trusted(row.try_get("account_id")?),
                    IntentStatus::parse(&status).ok_or_else(|| anyhow::anyhow!("bad status"))?,
                    error.as_deref().and_then(PublicError::parse),
                    row.try_get("new_movements")?,
                    row.try_get("modified_movements")?,
                    row.try_get("removed_movements")?,
                ))
            })
            .collect()
    }
}

/// One account's result, before it is written.
pub(super) struct AccountResult {
    pub(super) account_id: AccountId,
    pub(super) status: IntentStatus,
    pub(super) error: Option<PublicError>,
    pub(super) counts: RecordedCounts,
    pub(super) changes: Vec<(MovementId, &'static str)>,
}

/// Account results, one row `(id, intent, account, status, public error, new, modified,
/// removed, now)` each (see [`bind_result`]).
pub(super) const RESULT_ROWS: &str = "INSERT INTO account_refresh_results (id, refresh_intent_id,
        account_id, status, public_error, new_movements, modified_movements, removed_movements,
        created_at)
     VALUES {rows}";

/// Binds one row of [`RESULT_ROWS`] (9 parameters).
pub(super) fn bind_result<'q>(
    query: AnyQuery<'q>,
    intent_id: &'q RefreshIntentId,
    id: &'q RefreshIntentId,
    result: &'q AccountResult,
    now: i64,
) -> AnyQuery<'q> {
    query
        .bind(id.as_str())
        .bind(intent_id.as_str())
        .bind(result.account_id.as_str())
        .bind(result.status.as_str())
        .bind(result.error.map(PublicError::as_str))
        .bind(result.counts.new)
        .bind(result.counts.modified)
        .bind(result.counts.removed)
        .bind(now)
}

/// Writes the movement changes of the results `ids` (written before), whatever their number.
pub(super) async fn insert_changes(
    conn: &mut AnyConnection,
    ids: &[RefreshIntentId],
    results: &[AccountResult],
) -> anyhow::Result<()> {
    let changes: Vec<(&RefreshIntentId, &MovementId, &str)> = ids
        .iter()
        .zip(results)
        .flat_map(|(id, result)| {
            result
                .changes
                .iter()
                .map(move |(movement_id, change)| (id, movement_id, *change))
        })
        .collect();
    let statement =
        "INSERT INTO movement_changes (account_result_id, movement_id, change) VALUES {rows}";
    insert_rows(
        conn,
        statement,
        3,
        &changes,
        |query, (result_id, movement_id, change)| {
            query
                .bind(result_id.as_str())
                .bind(movement_id.as_str())
                .bind(*change)
        },
    )
    .await
}
