//! Movements of an account: inserts and reads.

use chrono::NaiveDate;

use super::row_writes::{RowsStatement, Tuple};
use super::rows::{bind_movement_data, date_to_millis, Bind, MovementRow, MOVEMENT_COLUMNS};
use super::{flag, Dialect, PageRequest, Paged, Store};
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
pub(super) const NEW_MOVEMENT_ROWS: RowsStatement = RowsStatement::insert(
    "INSERT INTO movements (id, account_id, bank_id,
        amount, currency, description, post_date, transaction_date, movement_type, status,
        pending, reference_id, comment, sender_account, recipient_account, created_at,
        updated_at)",
);

/// Pushes one row of [`NEW_MOVEMENT_ROWS`].
pub(super) fn bind_new_movement<'q>(
    row: &mut Tuple<'_, 'q>,
    account_id: &'q AccountId,
    movement: &'q MovementData,
    now: i64,
) {
    let row = row
        .push_bind(MovementId::generate().as_str().to_owned())
        .push_bind(account_id.as_str())
        .push_bind(&movement.bank_id);
    bind_movement_data(row, movement).bind(now).bind(now);
}

impl Store {
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
        // them in an order, for 10–20% of a page, where here they
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
