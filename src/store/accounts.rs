//! Accounts of a link: reads, and how a recording updates them by the bank's identity.

use super::rows::account_from_row;
use super::{PageRequest, Paged, Store};
use crate::domain::{Account, AccountId, LinkId};

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
