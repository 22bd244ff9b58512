//! What a recording reads before it queues for the writer: the link's accounts, and each
//! fetched account's diff against its stored movements.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::accounts::LinkAccounts;
use crate::domain::ingest::{diff_movements, MovementDiff, StoredMovement};
use crate::domain::*;
use crate::store::movements::movements_where;
use crate::store::rows::{date_to_millis, MovementRow};
use crate::store::Dialect;

/// What a recording reads before it writes (see `Store::finish_refresh`).
#[derive(Debug)]
pub(super) struct Prepared {
    /// The link's accounts.
    pub(super) known: LinkAccounts,
    /// Per fetched account, in order: its diff, or `None` when its movements were not read.
    pub(super) diffs: Vec<Option<MovementDiff>>,
}

impl Prepared {
    /// Reads the link's accounts and diffs each answered fetch against its stored movements
    /// (the fetched movements move into the diffs).
    pub(super) async fn read(
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
/// the account and filtered them.
///
/// The date term leaves out movements the bank already removed: the diff would not remove
/// them again, and one the bank returns is found by the bank-id term, which keeps them. So the
/// date term is a range of `movements_listed`, the partial index of movements not removed, and
/// no other index by date has to be written for every movement inserted.
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
async fn diff_fetched(
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

#[cfg(test)]
mod tests {
    /// SQLite reads a recording's stored movements as index ranges: each `SEARCH` of the plan
    /// is bounded by the window's first day or by a bank id, never by the account alone (which
    /// would read the account's whole history). Without its `removed_at IS NULL`, the date
    /// term has no index by date left to read since migration 0009.
    #[tokio::test]
    async fn the_diffs_read_is_bounded_by_date_or_bank_id_on_sqlite() {
        let (_dir, store) = crate::store::sqlite::temp_store().await;
        let sql = super::stored_for_diff_sql(crate::store::Dialect::Sqlite, 2);
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
