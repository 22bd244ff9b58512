//! Links: creation with their first accounts and movements, lookup scoped to a principal,
//! activation and deletion.

use sqlx::{AnyConnection, Row};

use super::events::{insert_events, subscriptions_sql, Subscriptions};
use super::rows::{account_from_row, bind_account_data, link_from_row};
use super::{flag, PageRequest, Paged, Store};
use crate::domain::*;

/// Everything a new link is created with, in one transaction.
#[derive(Clone, Debug)]
pub struct NewLink {
    /// Its id (also inside its token).
    pub id: LinkId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode.
    pub mode: Mode,
    /// Keyed hash of the link token.
    pub token_hash: String,
    /// The bank.
    pub institution: InstitutionRef,
    /// Individual or business.
    pub holder_type: HolderType,
    /// Holder tax id.
    pub holder_id: String,
    /// Bank login.
    pub username: String,
    /// Credentials sealed under the master key, bound to the link id.
    pub sealed_credentials: Vec<u8>,
    /// Its accounts as the bank listed them at login, in the bank's order. Their movements
    /// come with the link's first history ([`FirstHistory`]).
    pub accounts: Vec<AccountData>,
    /// When the accounts were listed.
    pub fetched_at: Timestamp,
    /// The second factor the bank asked for at login, if any.
    pub login_mfa: Option<MfaMethod>,
    /// The `historical` refresh intent that fetches the link's movements, created with it
    /// (Fintoc: "new links trigger historical to get every movement"). `None` only for links
    /// made without a bank (tests of the store).
    pub first_history: Option<FirstHistory>,
}

/// A new link's first `historical` refresh, created in the link's transaction with its job.
/// It is the link's refresh number 0 (the sandbox's "state at creation"), and it does not count
/// for the cooldowns: an on-demand refresh may follow it at once.
#[derive(Clone, Debug)]
pub struct FirstHistory {
    /// The intent's id.
    pub intent_id: RefreshIntentId,
    /// The bank session of the login that created the link, sealed under the intent id: the
    /// worker fetches with it instead of logging in (and meeting a second factor) again.
    pub sealed_session: Vec<u8>,
    /// When the refresh must be over.
    pub deadline: Timestamp,
}

/// A link's creation, in the group writer's next transaction on SQLite.
struct CreateLink(NewLink);

impl super::group_commit::GroupedWrite for CreateLink {
    type Output = (Link, Vec<Account>);

    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Self::Output> {
        Store::insert_link(conn, &self.0).await
    }
}

/// A page of links.
pub type LinkPage = Paged<Link>;

/// A link row's columns, as `link_from_row` reads them: `link_columns!()` names them, and
/// `link_columns!(l)` takes each from the table `l` under its own name (for statements that
/// read other tables too). A macro, so that statements are composed at compile time.
macro_rules! link_columns {
    ($($table:ident)?) => {
        $crate::store::rows::column_list!($($table)?;
            id, organization_id, mode, institution_id, institution_name, institution_country,
            holder_type, holder_id, username, active, credential_status, refresh_status,
            last_time_refreshed, created_at, login_mfa)
    };
}
pub(super) use link_columns;

pub(super) const LINK_COLUMNS: &str = link_columns!();

impl Store {
    /// Stores a new link, its accounts, its `link.created` event and its first history
    /// atomically. On SQLite, links created together share one commit with the other grouped
    /// writes (see [`super::group_commit`]): a link is about ten statements, and each link in
    /// a transaction of its own waited for the writer and an fsync of its own.
    #[tracing::instrument(skip_all, fields(link_id = %new.id))]
    pub async fn create_link(&self, new: &NewLink) -> anyhow::Result<(Link, Vec<Account>)> {
        self.write_grouped(CreateLink(new.clone())).await
    }

    /// Inserts a new link, its accounts, its `link.created` event and its first history inside
    /// the caller's transaction (link intents complete in the same one); returns the link and
    /// its accounts as stored.
    pub(super) async fn insert_link(
        conn: &mut AnyConnection,
        new: &NewLink,
    ) -> anyhow::Result<(Link, Vec<Account>)> {
        let now = Timestamp::now().millis();
        // Refreshing until its first history is recorded; a link made without one is as its
        // bank listed it.
        let (status, last_refreshed) = match new.first_history {
            Some(_) => (RefreshStatus::Refreshing, None),
            None => (RefreshStatus::Refreshed, Some(new.fetched_at.millis())),
        };
        sqlx::query(
            "INSERT INTO links (id, organization_id, mode, token_hash, institution_id,
                institution_name, institution_country, holder_type, holder_id, username,
                credentials, active, credential_status, refresh_status, last_time_refreshed,
                refresh_count, created_at, login_mfa)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $14, 0, $15, $16)",
        )
        .bind(new.id.as_str())
        .bind(new.organization_id.as_str())
        .bind(new.mode.as_str())
        .bind(&new.token_hash)
        .bind(&new.institution.id)
        .bind(&new.institution.name)
        .bind(&new.institution.country)
        .bind(new.holder_type.as_str())
        .bind(&new.holder_id)
        .bind(&new.username)
        .bind(new.sealed_credentials.clone())
        .bind(CredentialStatus::Active.as_str())
        .bind(status.as_str())
        .bind(last_refreshed)
        .bind(now)
        .bind(new.login_mfa.map(MfaMethod::as_str))
        .execute(&mut *conn)
        .await?;
        for (position, account) in new.accounts.iter().enumerate() {
            Self::insert_account(
                conn,
                &new.id,
                &AccountId::generate(),
                position,
                account,
                status,
                new.fetched_at,
            )
            .await?;
        }
        let created = Self::insert_link_created(conn, new).await?;
        if let Some(history) = &new.first_history {
            Self::insert_first_history(conn, new, history, now).await?;
        }
        Ok(created)
    }

    /// The `link.created` event of the link just inserted on `conn`, made from the rows as
    /// stored, with its deliveries; returns those rows.
    async fn insert_link_created(
        conn: &mut AnyConnection,
        new: &NewLink,
    ) -> anyhow::Result<(Link, Vec<Account>)> {
        let row = sqlx::query(&format!("SELECT {LINK_COLUMNS} FROM links WHERE id = $1"))
            .bind(new.id.as_str())
            .fetch_one(&mut *conn)
            .await?;
        let accounts =
            sqlx::query("SELECT * FROM accounts WHERE link_id = $1 ORDER BY position, id")
                .bind(new.id.as_str())
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(account_from_row)
                .collect::<anyhow::Result<Vec<_>>>()?;
        let link = link_from_row(&row)?;
        let event = NewEvent::link_created(&link, &accounts)?;
        let subscriptions: Subscriptions =
            sqlx::query_as(subscriptions_sql!("e.organization_id = $1 AND e.mode = $2"))
                .bind(new.organization_id.as_str())
                .bind(new.mode.as_str())
                .fetch_all(&mut *conn)
                .await?;
        insert_events(
            conn,
            &new.organization_id,
            new.mode,
            &[event],
            &subscriptions,
        )
        .await?;
        Ok((link, accounts))
    }

    /// The first history's intent and its ready job.
    async fn insert_first_history(
        conn: &mut AnyConnection,
        new: &NewLink,
        history: &FirstHistory,
        now: i64,
    ) -> anyhow::Result<()> {
        let fetch_day = Timestamp::start_of(
            chrono::DateTime::from_timestamp_millis(now)
                .unwrap_or_default()
                .date_naive(),
        );
        sqlx::query(
            "INSERT INTO refresh_intents (id, organization_id, mode, link_id, refresh_type,
                status, new_movements, created_at, deadline_at, refresh_number, fetch_day,
                mfa_session)
             VALUES ($1, $2, $3, $4, $5, 'created', 0, $6, $7, 0, $8, $9)",
        )
        .bind(history.intent_id.as_str())
        .bind(new.organization_id.as_str())
        .bind(new.mode.as_str())
        .bind(new.id.as_str())
        .bind(RefreshType::Historical.as_str())
        .bind(now)
        .bind(history.deadline.millis())
        .bind(fetch_day.millis())
        .bind(history.sealed_session.clone())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_jobs (intent_id, state, run_after, attempts, updated_at)
             VALUES ($1, 'ready', $2, 0, $2)",
        )
        .bind(history.intent_id.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn insert_account(
        conn: &mut AnyConnection,
        link_id: &LinkId,
        account_id: &AccountId,
        position: usize,
        account: &AccountData,
        status: RefreshStatus,
        fetched_at: Timestamp,
    ) -> anyhow::Result<()> {
        let query = sqlx::query(
            "INSERT INTO accounts (id, link_id, bank_id, position, name, official_name, number,
                holder_id, holder_name, account_type, currency, balance_available,
                balance_current, balance_limit, refreshed_at, refresh_status, next_refresh,
                removed_from_link, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                NULL, 0, $15)",
        )
        .bind(account_id.as_str())
        .bind(link_id.as_str())
        .bind(&account.bank_id)
        .bind(i64::try_from(position)?);
        bind_account_data(query, account)
            .bind(fetched_at.millis())
            .bind(status.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// A live (not deleted) link of this organization and mode.
    pub async fn link_by_id(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &LinkId,
    ) -> anyhow::Result<Option<Link>> {
        Ok(self
            .link_with_token_hash(organization_id, mode, id)
            .await?
            .map(|(link, _)| link))
    }

    /// A link by id whatever its owner, deleted or not (workers finishing old intents).
    pub async fn link_including_deleted(&self, id: &LinkId) -> anyhow::Result<Option<Link>> {
        let sql = format!("SELECT {LINK_COLUMNS} FROM links WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// A live link of this organization and mode with its stored token hash, to check a
    /// presented link token against before the link is used. One read for both: every
    /// request with a link token makes it.
    pub async fn link_with_token_hash(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &LinkId,
    ) -> anyhow::Result<Option<(Link, String)>> {
        let sql = format!(
            "SELECT {LINK_COLUMNS}, token_hash FROM links
             WHERE id = $1 AND organization_id = $2 AND mode = $3 AND deleted_at IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .bind(organization_id.as_str())
            .bind(mode.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.map(|row| Ok((link_from_row(&row)?, row.try_get("token_hash")?)))
            .transpose()
    }

    /// The organization's links in this mode, newest first.
    pub async fn list_links(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        page: PageRequest,
    ) -> anyhow::Result<LinkPage> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM links
             WHERE organization_id = $1 AND mode = $2 AND deleted_at IS NULL",
        )
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .fetch_one(&self.read)
        .await?;
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM links
             WHERE organization_id = $1 AND mode = $2 AND deleted_at IS NULL
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(&sql)
            .bind(organization_id.as_str())
            .bind(mode.as_str())
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(&self.read)
            .await?;
        Paged::from_rows(&rows, total, link_from_row)
    }

    /// Turns refreshing on or off; returns the updated link, or `None` if it is gone.
    pub async fn set_link_active(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &LinkId,
        active: bool,
    ) -> anyhow::Result<Option<Link>> {
        sqlx::query(
            "UPDATE links SET active = $1
             WHERE id = $2 AND organization_id = $3 AND mode = $4 AND deleted_at IS NULL",
        )
        .bind(flag(active))
        .bind(id.as_str())
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .execute(&self.write)
        .await?;
        self.link_by_id(organization_id, mode, id).await
    }

    /// Replaces a link's sealed credentials after a successful login with them, and marks the
    /// credentials active again.
    pub async fn update_link_credentials(
        &self,
        id: &LinkId,
        sealed_credentials: &[u8],
        login_mfa: Option<MfaMethod>,
    ) -> anyhow::Result<()> {
        Self::replace_credentials(&self.write, id, sealed_credentials, login_mfa).await?;
        Ok(())
    }

    /// The one statement that gives a live link new credentials (the API's reconnection, and
    /// the widget's inside its intent's transaction). False when the link is gone.
    pub(super) async fn replace_credentials<'e>(
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        id: &LinkId,
        sealed_credentials: &[u8],
        login_mfa: Option<MfaMethod>,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE links SET credentials = $1, login_mfa = $2, credential_status = 'active'
             WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(sealed_credentials.to_vec())
        .bind(login_mfa.map(MfaMethod::as_str))
        .bind(id.as_str())
        .execute(executor)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the link's bank now asks for a second factor at login (`method`), which it
    /// did not when the link was made: its on-demand refreshes then come with `requires_mfa`,
    /// and the schedule leaves it alone (docs/politeness.md, "Unattended refreshes").
    pub async fn mark_login_mfa(&self, id: &LinkId, method: MfaMethod) -> anyhow::Result<()> {
        sqlx::query("UPDATE links SET login_mfa = $1 WHERE id = $2 AND login_mfa IS NULL")
            .bind(method.as_str())
            .bind(id.as_str())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Deletes a link: its token stops working at once and it disappears from every list.
    /// Rows are kept (marked deleted) so in-flight work referring to them stays consistent.
    /// Returns false when there was no such live link.
    pub async fn delete_link(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &LinkId,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE links SET deleted_at = $1, active = 0
             WHERE id = $2 AND organization_id = $3 AND mode = $4 AND deleted_at IS NULL",
        )
        .bind(Timestamp::now().millis())
        .bind(id.as_str())
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every account of a link, in the bank's order (embedded in a retrieved link).
    pub async fn accounts_of_link(&self, link_id: &LinkId) -> anyhow::Result<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts WHERE link_id = $1 ORDER BY position, id")
            .bind(link_id.as_str())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(account_from_row).collect()
    }
}
