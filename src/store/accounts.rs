//! Accounts of a link: reads, and how a recording updates them by the bank's identity.

use sqlx::AnyConnection;

use super::rows::{account_from_row, bind_account_data};
use super::{PageRequest, Paged, Store};
use crate::domain::{Account, AccountData, AccountId, LinkId, RefreshStatus, Timestamp};

impl Store {
    /// A page of a link's accounts, in the bank's order.
    pub async fn list_accounts(
        &self,
        link_id: &LinkId,
        page: PageRequest,
    ) -> anyhow::Result<Paged<Account>> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE link_id = $1")
            .bind(link_id.as_str())
            .fetch_one(&self.read)
            .await?;
        let rows = sqlx::query(
            "SELECT * FROM accounts WHERE link_id = $1 ORDER BY position, id LIMIT $2 OFFSET $3",
        )
        .bind(link_id.as_str())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&self.read)
        .await?;
        Paged::from_rows(&rows, total, account_from_row)
    }

    /// One account, only if it belongs to `link_id`.
    pub async fn account(
        &self,
        link_id: &LinkId,
        id: &AccountId,
    ) -> anyhow::Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1 AND link_id = $2")
            .bind(id.as_str())
            .bind(link_id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }
}

/// A link's accounts as stored when the recording began (read once: which the bank no longer
/// lists, which it lists again, and where a new one goes).
pub(super) struct LinkAccounts {
    /// (id, bank id, listed on the link).
    stored: Vec<(String, String, bool)>,
    /// Position of the next new account.
    next_position: i64,
}

impl LinkAccounts {
    pub(super) async fn read(conn: &mut AnyConnection, link_id: &LinkId) -> anyhow::Result<Self> {
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
    pub(super) async fn mark_unlisted_removed(
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
    pub(super) async fn upsert(
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
