//! The link's accounts as a recording finds and leaves them: which the bank no longer lists,
//! which it lists again, new ones, and one update of all the fetched ones.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::domain::{Account, AccountData, AccountId, LinkId, RefreshStatus, Timestamp};
use crate::store::row_writes::{RowsStatement, Tuple};
use crate::store::rows::{account_from_row, bind_account_data};

/// A link's accounts as stored when the recording began (read once: which the bank no longer
/// lists, which it lists again, and where a new one goes).
#[derive(Clone, Debug)]
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

    /// The stored account the bank knows as `bank_id`, if the link has it (listed or not).
    pub(super) fn id_of(&self, bank_id: &str) -> Option<AccountId> {
        self.stored
            .iter()
            .find(|(_, stored, _)| stored == bank_id)
            .map(|(id, _, _)| AccountId::from_trusted(id.clone()))
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

    /// The id of each fetched account, in order: the stored one with its bank identity, or
    /// a new account added after the others (with its bank data still empty: the recording's
    /// [`ACCOUNT_UPDATES`] fills it in).
    pub(super) async fn ids_for(
        &mut self,
        conn: &mut AnyConnection,
        link_id: &LinkId,
        fetched: &[AccountUpdate<'_>],
    ) -> anyhow::Result<Vec<AccountId>> {
        let mut ids = Vec::with_capacity(fetched.len());
        for update in fetched {
            ids.push(match self.id_of(&update.data.bank_id) {
                Some(id) => id,
                None => self.insert_placeholder(conn, link_id, update).await?,
            });
        }
        Ok(ids)
    }

    /// Adds an account the link did not have, after the others, with its bank data still
    /// empty (the update that follows fills it in).
    async fn insert_placeholder(
        &mut self,
        conn: &mut AnyConnection,
        link_id: &LinkId,
        update: &AccountUpdate<'_>,
    ) -> anyhow::Result<AccountId> {
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
        .bind(&update.data.bank_id)
        .bind(self.next_position)
        .bind(update.status.as_str())
        .bind(Timestamp::now().millis())
        .execute(&mut *conn)
        .await?;
        self.next_position += 1;
        self.stored
            .push((id.to_string(), update.data.bank_id.clone(), true));
        Ok(id)
    }
}

/// An account row's columns, named (SQLite's `RETURNING` takes no `accounts.*`, and a bare `*`
/// after `FROM (VALUES …)` would bring PostgreSQL's `column1…` too).
macro_rules! account_columns {
    () => {
        "id, link_id, bank_id, position, name, official_name, number,
    holder_id, holder_name, account_type, currency, balance_available, balance_current,
    balance_limit, refreshed_at, refresh_status, next_refresh, removed_from_link, created_at"
    };
}

/// Updates fetched accounts by id, one row `(id, the bank's data, refresh status, refreshed
/// at, next refresh)` each (see [`bind_account_update`]), returning them as stored now. One
/// statement for all of a link's accounts. It also moves each account's `movements_version`
/// on: a recording writes movements only of the accounts it fetched, in this transaction.
pub(super) const ACCOUNT_UPDATES: RowsStatement = RowsStatement::new(
    "UPDATE accounts SET name = v.column2, official_name = v.column3,
         number = v.column4, holder_id = v.column5, holder_name = v.column6,
         account_type = v.column7, currency = v.column8,
         balance_available = v.column9, balance_current = v.column10,
         balance_limit = v.column11, refresh_status = v.column12,
         refreshed_at = COALESCE(v.column13, accounts.refreshed_at),
         next_refresh = COALESCE(v.column14, accounts.next_refresh),
         removed_from_link = 0, movements_version = accounts.movements_version + 1
     FROM (",
    concat!(
        ") AS v WHERE accounts.id = v.column1 RETURNING ",
        account_columns!()
    ),
);

/// Pushes one row of [`ACCOUNT_UPDATES`].
pub(super) fn bind_account_update<'q>(
    row: &mut Tuple<'_, 'q>,
    id: &'q AccountId,
    update: &'q AccountUpdate<'_>,
) {
    bind_account_data(row.push_bind(id.as_str()), update.data)
        .push_bind(update.status.as_str())
        .push_bind(update.refreshed_at)
        .push_bind(update.next_refresh.map(Timestamp::millis));
}

/// The accounts `rows` returned by [`ACCOUNT_UPDATES`], in the order of `ids`.
pub(super) fn updated_in_order(rows: &[AnyRow], ids: &[AccountId]) -> anyhow::Result<Vec<Account>> {
    let mut stored = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let account = account_from_row(row)?;
        stored.insert(account.id.to_string(), account);
    }
    ids.iter()
        .map(|id| {
            stored
                .remove(id.as_str())
                .ok_or_else(|| anyhow::anyhow!("account {id} was not updated"))
        })
        .collect()
}

/// What a recording writes on one fetched account.
pub(super) struct AccountUpdate<'a> {
    /// The bank's data.
    pub(super) data: &'a AccountData,
    /// Its refresh status after this refresh.
    pub(super) status: RefreshStatus,
    /// When it was refreshed (only when it was).
    pub(super) refreshed_at: Option<i64>,
    /// When it will be refreshed next (only when it was refreshed).
    pub(super) next_refresh: Option<Timestamp>,
}
