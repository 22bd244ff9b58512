//! Movements of an account.

use chrono::NaiveDate;

use super::rows::{date_to_millis, movement_from_row, transfer_to_column};
use super::{flag, placeholders, PageRequest, Paged, Store};
use crate::domain::{AccountId, Movement, MovementData, MovementId};

/// Rows per multi-row `INSERT`: 17 parameters each stays far below both engines' limits
/// (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 256;

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

impl Store {
    /// Inserts movements that are new to their accounts, many rows per statement (a refresh
    /// brings tens of them per account; one statement each was most of a recording's round
    /// trips).
    pub(super) async fn insert_movements(
        conn: &mut sqlx::AnyConnection,
        movements: &[(&AccountId, &MovementData)],
        now: i64,
    ) -> anyhow::Result<()> {
        for chunk in movements.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO movements (id, account_id, bank_id, amount, currency, description,
                    post_date, transaction_date, movement_type, status, pending, reference_id,
                    comment, sender_account, recipient_account, created_at, updated_at)
                 VALUES {}",
                placeholders(chunk.len(), 17, 0)
            );
            let mut query = sqlx::query(&sql);
            for (account_id, movement) in chunk {
                query = query
                    .bind(MovementId::generate().as_str().to_owned())
                    .bind(account_id.as_str())
                    .bind(&movement.bank_id)
                    .bind(movement.amount)
                    .bind(&movement.currency)
                    .bind(&movement.description)
                    .bind(date_to_millis(movement.post_date))
                    .bind(movement.transaction_date.map(|t| t.millis()))
                    .bind(&movement.movement_type)
                    .bind(&movement.status)
                    .bind(flag(movement.pending))
                    .bind(&movement.reference_id)
                    .bind(&movement.comment)
                    .bind(transfer_to_column(&movement.sender_account))
                    .bind(transfer_to_column(&movement.recipient_account))
                    .bind(now)
                    .bind(now);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// A page of an account's movements, newest `post_date` first. Movements the bank removed
    /// are not listed.
    pub async fn list_movements(
        &self,
        account_id: &AccountId,
        filter: MovementFilter,
        page: PageRequest,
    ) -> anyhow::Result<Paged<Movement>> {
        // Absent bounds become the widest range, so one statement serves every filter.
        let since = filter.since.map(date_to_millis).unwrap_or(i64::MIN);
        let until = filter.until.map(date_to_millis).unwrap_or(i64::MAX);
        let confirmed_only = flag(filter.confirmed_only);
        const WHERE: &str = "account_id = $1 AND removed_at IS NULL AND post_date >= $2
            AND post_date < $3 AND ($4 = 0 OR status = 'confirmed')";
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM movements WHERE {WHERE}"))
                .bind(account_id.as_str())
                .bind(since)
                .bind(until)
                .bind(confirmed_only)
                .fetch_one(&self.read)
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT * FROM movements WHERE {WHERE}
             ORDER BY post_date DESC, id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(account_id.as_str())
        .bind(since)
        .bind(until)
        .bind(confirmed_only)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&self.read)
        .await?;
        Paged::from_rows(&rows, total, movement_from_row)
    }

    /// One movement of an account (not one the bank removed).
    pub async fn movement(
        &self,
        account_id: &AccountId,
        id: &MovementId,
    ) -> anyhow::Result<Option<Movement>> {
        let row = sqlx::query(
            "SELECT * FROM movements WHERE id = $1 AND account_id = $2 AND removed_at IS NULL",
        )
        .bind(id.as_str())
        .bind(account_id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(movement_from_row).transpose()
    }
}
