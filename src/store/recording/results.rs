//! A refresh's per-account results: written by its recording, and put together inside that
//! transaction so its events are made from exactly what was written.

use std::collections::HashMap;

use sqlx::AnyConnection;

use crate::domain::*;
use crate::store::movements::movements_where;
use crate::store::row_writes::{RowsStatement, Tuple};
use crate::store::rows::MovementRow;
use crate::store::{id_list, insert_rows, Dialect};

/// Puts together what the refresh wrote (the intent, link and accounts as their updates
/// returned them), reading only the movements it modified or removed.
pub(super) async fn read_recorded(
    conn: &mut AnyConnection,
    intent: RefreshIntent,
    link: Link,
    results: Vec<WrittenResult>,
    credentials_changed: bool,
) -> anyhow::Result<RecordedRefresh> {
    let mut changed = changed_movements(conn, &results).await?;
    let mut accounts = Vec::with_capacity(results.len());
    for WrittenResult {
        id,
        account,
        result,
    } in results
    {
        let mut modified = Vec::new();
        let mut removed = Vec::new();
        for (movement_id, change) in result.changes {
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
            result_id: id,
            account,
            status: result.status,
            public_error: result.error,
            new_movements: result.counts.new,
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
    results: &[WrittenResult],
) -> anyhow::Result<HashMap<String, Movement>> {
    let ids: Vec<&str> = results
        .iter()
        .flat_map(|result| result.result.changes.iter().map(|(id, _)| id.as_str()))
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

/// One account's result as written: its id, the account as the refresh left it, and what
/// happened to it.
pub(super) struct WrittenResult {
    pub(super) id: RefreshIntentId,
    pub(super) account: Account,
    pub(super) result: AccountResult,
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
pub(super) const RESULT_ROWS: RowsStatement = RowsStatement::insert(
    "INSERT INTO account_refresh_results (id, refresh_intent_id, account_id, status,
        public_error, new_movements, modified_movements, removed_movements, created_at)",
);

/// Pushes one row of [`RESULT_ROWS`].
pub(super) fn bind_result<'q>(
    row: &mut Tuple<'_, 'q>,
    intent_id: &'q RefreshIntentId,
    id: &'q RefreshIntentId,
    result: &'q AccountResult,
    now: i64,
) {
    row.push_bind(id.as_str())
        .push_bind(intent_id.as_str())
        .push_bind(result.account_id.as_str())
        .push_bind(result.status.as_str())
        .push_bind(result.error.map(PublicError::as_str))
        .push_bind(result.counts.new)
        .push_bind(result.counts.modified)
        .push_bind(result.counts.removed)
        .push_bind(now);
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
    let statement = RowsStatement::insert(
        "INSERT INTO movement_changes (account_result_id, movement_id, change)",
    );
    insert_rows(
        conn,
        statement,
        &changes,
        |row, (result_id, movement_id, change)| {
            row.push_bind(result_id.as_str())
                .push_bind(movement_id.as_str())
                .push_bind(*change);
        },
    )
    .await
}
