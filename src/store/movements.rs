//! Movements of an account: inserts, the diff a recording applies, and reads.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::AnyConnection;

use super::ingest::{FetchedMovements, RecordedCounts};
use super::rows::{bind_movement_data, date_to_millis, AnyQuery, MovementRow, MOVEMENT_COLUMNS};
use super::{flag, insert_rows, Dialect, PageRequest, Paged, Store};
use crate::domain::ingest::{diff_movements, MovementDiff, StoredMovement};
use crate::domain::{AccountId, LinkId, Movement, MovementData, MovementId};

/// Filters of the movements list (all optional).
#[derive(Clone, Copy, Debug, Default)]
pub struct MovementFilter {
    /// `post_date >= since`.
    pub since: Option<NaiveDate>,
    /// `post_date < until` (exclusive, as Fintoc documents).
    pub until: Option<NaiveDate>,
    /// Only `status = confirmed` (Fintoc's default).
    pub confirmed_only: bool,
}

/// New movements, each with a new id: `(id, account, bank id, the movement's data, now, now)`.
pub(super) const NEW_MOVEMENT_ROWS: &str = "INSERT INTO movements (id, account_id, bank_id,
        amount, currency, description, post_date, transaction_date, movement_type, status,
        pending, reference_id, comment, sender_account, recipient_account, created_at,
        updated_at)
     VALUES {rows}";

/// Binds one row of [`NEW_MOVEMENT_ROWS`] (17 parameters).
pub(super) fn bind_new_movement<'q>(
    query: AnyQuery<'q>,
    account_id: &'q AccountId,
    movement: &'q MovementData,
    now: i64,
) -> AnyQuery<'q> {
    let query = query
        .bind(MovementId::generate().as_str().to_owned())
        .bind(account_id.as_str())
        .bind(&movement.bank_id);
    bind_movement_data(query, movement).bind(now).bind(now)
}

impl Store {
    /// Inserts movements that are new to their accounts, many rows per statement (a refresh
    /// brings tens of them per account; one statement each was most of a recording's round
    /// trips).
    pub(super) async fn insert_movements(
        conn: &mut sqlx::AnyConnection,
        movements: &[(&AccountId, &MovementData)],
        now: i64,
    ) -> anyhow::Result<()> {
        insert_rows(
            conn,
            NEW_MOVEMENT_ROWS,
            17,
            movements,
            |query, (account, movement)| bind_new_movement(query, account, movement, now),
        )
        .await
    }

    /// A page of an account's movements, newest `post_date` first, or `None` when the link
    /// has no such account. Movements the bank removed are not listed.
    pub async fn list_movements(
        &self,
        link_id: &LinkId,
        account_id: &AccountId,
        filter: MovementFilter,
        page: PageRequest,
    ) -> anyhow::Result<Option<Paged<Movement>>> {
        // Absent bounds become the widest range, so one statement serves every filter.
        let since = filter.since.map(date_to_millis).unwrap_or(i64::MIN);
        let until = filter.until.map(date_to_millis).unwrap_or(i64::MAX);
        let confirmed_only = flag(filter.confirmed_only);
        const WHERE: &str = "account_id = $1 AND removed_at IS NULL AND post_date >= $2
            AND post_date < $3 AND ($4 = 0 OR status = 'confirmed')";
        const ORDER: &str = "post_date DESC, id DESC";
        // Whether the link has the account, its movements' version, the count (unless the
        // version is the one a total was cached at: `-1` then) and the page in one round trip,
        // so in one snapshot; the page as one value (see `json_rows`). The page is put in
        // order here, not inside the aggregate: SQLite would sort its rows again to aggregate
        // them in an order, for 10–20% of a page (BENCHMARKS.md, change 44), where here they
        // are sorted already but for what the engine does not promise.
        let key = (account_id.to_string(), since, until, filter.confirmed_only);
        let cached = self.movement_counts.get(&key);
        const VERSION: &str = "(SELECT movements_version FROM accounts WHERE id = $1)";
        let (listed, version, counted, page): (i64, Option<i64>, i64, String) =
            sqlx::query_as(&format!(
                "SELECT (SELECT COUNT(*) FROM accounts WHERE id = $1 AND link_id = $7),
                        {VERSION},
                        CASE WHEN {VERSION} = $8 THEN -1
                             ELSE (SELECT COUNT(*) FROM movements WHERE {WHERE}) END,
                        (SELECT {rows} FROM (SELECT {MOVEMENT_COLUMNS} FROM movements
                            WHERE {WHERE} ORDER BY {ORDER} LIMIT $5 OFFSET $6) page)",
                rows = self.dialect.json_rows(MOVEMENT_COLUMNS, None),
            ))
            .bind(account_id.as_str())
            .bind(since)
            .bind(until)
            .bind(confirmed_only)
            .bind(page.limit())
            .bind(page.offset())
            .bind(link_id.as_str())
            .bind(cached.map_or(-1, |(version, _)| version))
            .fetch_one(&self.read)
            .await?;
        if listed == 0 {
            return Ok(None);
        }
        // `-1`: the version is the cached one, so is the total.
        let total = match cached {
            Some((_, total)) if counted == -1 => total,
            _ => {
                if let Some(version) = version {
                    self.movement_counts.insert(key, version, counted);
                }
                counted
            }
        };
        let mut page = MovementRow::parse_all(&page)?;
        MovementRow::sort_newest_first(&mut page);
        Ok(Some(Paged {
            items: page
                .into_iter()
                .map(MovementRow::into_movement)
                .collect::<anyhow::Result<_>>()?,
            total: super::to_total(total),
        }))
    }

    /// One movement of an account (not one the bank removed).
    pub async fn movement(
        &self,
        account_id: &AccountId,
        id: &MovementId,
    ) -> anyhow::Result<Option<Movement>> {
        let rows: String = sqlx::query_scalar(&movements_where(
            self.dialect,
            "id = $1 AND account_id = $2 AND removed_at IS NULL",
        ))
        .bind(id.as_str())
        .bind(account_id.as_str())
        .fetch_one(&self.read)
        .await?;
        MovementRow::parse_all(&rows)?
            .into_iter()
            .next()
            .map(MovementRow::into_movement)
            .transpose()
    }
}

/// A statement whose one value is every movement matching `condition`, as
/// [`Dialect::json_rows`] of [`MOVEMENT_COLUMNS`] (read with [`MovementRow::parse_all`]).
pub(super) fn movements_where(dialect: Dialect, condition: &str) -> String {
    format!(
        "SELECT {rows} FROM (SELECT {MOVEMENT_COLUMNS} FROM movements WHERE {condition}) m",
        rows = dialect.json_rows(MOVEMENT_COLUMNS, Some("id")),
    )
}

/// The stored movements a recording's diff can use, of `accounts` accounts bound as
/// (account `$1`, first day of the window `$2`, the fetched bank ids as a JSON array `$3`),
/// then `$4`–`$6` for the next, and so on: those from the window's first day (the only ones the
/// bank can be judged to have removed), and any other the bank returned again (found by its
/// identity: the bank may have moved its date into the window). An account's whole history is
/// not read at every refresh.
///
/// Each account is two terms of the `OR`, not one term with an `OR` inside: SQLite then reads
/// each term as one index range (the account's dates from the first day; the account's bank
/// ids), where `account_id = $1 AND (post_date >= $2 OR bank_id IN …)` read every movement of
/// the account and filtered them (BENCHMARKS.md, change 38).
///
/// The date term leaves out movements the bank already removed: the diff would not remove
/// them again, and one the bank returns is found by the bank-id term, which keeps them. So the
/// date term is a range of `movements_listed`, the partial index of movements not removed, and
/// no other index by date has to be written for every movement inserted (change 48).
fn stored_for_diff_sql(dialect: Dialect, accounts: usize) -> String {
    let condition = (0..accounts)
        .map(|k| {
            let account = format!("${}", 3 * k + 1);
            format!(
                "(account_id = {account} AND post_date >= ${} AND removed_at IS NULL) OR \
                 (account_id = {account} AND bank_id IN ({}))",
                3 * k + 2,
                dialect.text_list(&format!("${}", 3 * k + 3)),
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    movements_where(dialect, &condition)
}

/// Diffs each answered account's fetch against its stored movements: one read of every
/// account's stored movements, whatever the number of accounts. An account the link does not
/// have yet (`None`) has nothing stored. The fetched movements are moved into the diffs.
///
/// A recording runs this on a reader before it queues for the writer (see
/// `Store::finish_refresh` for why what it reads cannot change before the write).
pub(super) async fn diff_fetched(
    conn: &mut AnyConnection,
    answered: &mut [(Option<&AccountId>, &mut FetchedMovements)],
) -> anyhow::Result<Vec<MovementDiff>> {
    let known: Vec<(&AccountId, &FetchedMovements)> = answered
        .iter()
        .filter_map(|(id, fetched)| id.map(|id| (id, &**fetched)))
        .collect();
    let mut stored: HashMap<String, Vec<StoredMovement>> = HashMap::new();
    if !known.is_empty() {
        let sql = stored_for_diff_sql(Dialect::of(conn), known.len());
        let mut query = sqlx::query_scalar(&sql);
        for (account_id, fetched) in &known {
            let bank_ids: Vec<&str> = fetched
                .movements
                .iter()
                .map(|m| m.bank_id.as_str())
                .collect();
            query = query
                .bind(account_id.as_str())
                .bind(date_to_millis(fetched.since))
                .bind(serde_json::to_string(&bank_ids)?);
        }
        let rows: String = query.fetch_one(&mut *conn).await?;
        for row in MovementRow::parse_all(&rows)? {
            stored
                .entry(row.account_id().to_owned())
                .or_default()
                .push(row.into_stored()?);
        }
    }
    Ok(answered
        .iter_mut()
        .map(|(account_id, fetched)| {
            diff_movements(
                account_id
                    .and_then(|id| stored.get(id.as_str()))
                    .map_or(&[][..], Vec::as_slice),
                std::mem::take(&mut fetched.movements),
                fetched.since,
                fetched.until,
            )
        })
        .collect())
}

/// Applies each answered account's diff: an update of each modified or removed movement.
/// Returns (counts, changes) per account, in order, and the new movements, which the caller
/// inserts with the accounts' results (see `ingest::MainWrites`).
pub(super) async fn apply_diffs<'a>(
    conn: &mut AnyConnection,
    diffs: &[(&'a AccountId, &'a MovementDiff)],
    now: i64,
) -> anyhow::Result<Applied<'a>> {
    let mut new = Vec::new();
    let mut applied = Vec::with_capacity(diffs.len());
    for &(account_id, diff) in diffs {
        let mut changes = Vec::new();
        for (id, data) in &diff.modified {
            let query = sqlx::query(
                "UPDATE movements SET amount = $1, currency = $2, description = $3, post_date = $4,
                 transaction_date = $5, movement_type = $6, status = $7, pending = $8,
                 reference_id = $9, comment = $10, sender_account = $11, recipient_account = $12,
                 removed_at = NULL, updated_at = $13
             WHERE id = $14",
            );
            bind_movement_data(query, data)
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
        new.extend(diff.new.iter().map(|movement| (account_id, movement)));
        applied.push((counts, changes));
    }
    Ok(Applied {
        per_account: applied,
        new,
    })
}

/// What [`apply_diffs`] did per account, and the new movements it left to insert.
#[derive(Default)]
pub(super) struct Applied<'a> {
    /// (counts, changes) per answered account, in order.
    pub per_account: Vec<(RecordedCounts, Vec<(MovementId, &'static str)>)>,
    /// The movements to insert, with their account.
    pub new: Vec<(&'a AccountId, &'a MovementData)>,
}

#[cfg(test)]
mod tests {
    /// SQLite reads a recording's stored movements as index ranges: each `SEARCH` of the plan
    /// is bounded by the window's first day or by a bank id, never by the account alone (which
    /// would read the account's whole history). Without its `removed_at IS NULL`, the date
    /// term has no index by date left to read since migration 0009.
    #[tokio::test]
    async fn the_diffs_read_is_bounded_by_date_or_bank_id_on_sqlite() {
        let (_dir, store) = super::super::sqlite::temp_store().await;
        let sql = super::stored_for_diff_sql(super::Dialect::Sqlite, 2);
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind("acc_a")
                .bind(0_i64)
                .bind(r#"["x"]"#)
                .bind("acc_b")
                .bind(0_i64)
                .bind(r#"["y"]"#)
                .fetch_all(&store.read)
                .await
                .unwrap();
        let searches: Vec<&str> = plan
            .iter()
            .map(|(_, _, _, detail)| detail.as_str())
            .filter(|d| d.starts_with("SEARCH movements"))
            .collect();
        assert_eq!(searches.len(), 4, "two ranges per account: {plan:?}");
        for search in searches {
            assert!(
                search.contains("post_date>") || search.contains("bank_id="),
                "a search bounded by the account alone: {search}"
            );
            // The date range reads the index of movements not removed, the only index by date.
            if search.contains("post_date>") {
                assert!(search.contains("movements_listed"), "{search}");
            }
        }
    }
}
