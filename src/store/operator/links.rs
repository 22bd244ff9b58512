//! Links across every organization and mode, for the dashboard, and a link's refreshes with
//! their per-account outcomes. Never the username, token hash or sealed credentials.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::store::Store;

/// A link as an operator sees it.
#[derive(Clone, Debug)]
pub struct OpsLink {
    /// `link_…`
    pub id: String,
    /// The owning organization's name.
    pub organization: String,
    /// `live` or `test`.
    pub mode: String,
    /// Institution id and name.
    pub institution_id: String,
    /// Institution display name.
    pub institution_name: String,
    /// `individual` or `business`.
    pub holder_type: String,
    /// The holder's tax id.
    pub holder_id: String,
    /// Whether the client keeps it refreshed.
    pub active: bool,
    /// `active`, `login_required`…
    pub credential_status: String,
    /// The link's refresh status.
    pub refresh_status: String,
    /// Epoch milliseconds of the last successful refresh.
    pub last_time_refreshed: Option<i64>,
    /// The latest refresh's `public_error` and our reason for it, when it failed.
    pub last_error: Option<String>,
    /// Why, in our words.
    pub last_failure_reason: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// One refresh intent, with the moments of its timeline.
#[derive(Clone, Debug)]
pub struct OpsIntent {
    /// `ri_…`
    pub id: String,
    /// `only_last` or `historical`.
    pub refresh_type: String,
    /// Wire status.
    pub status: String,
    /// Fintoc's `public_error`.
    pub public_error: Option<String>,
    /// Our reason.
    pub failure_reason: Option<String>,
    /// Second factor asked for (`sms`, `device`, `app`), if any.
    pub mfa_kind: Option<String>,
    /// Whether the holder gave it.
    pub mfa_completed: bool,
    /// Wrong answers given.
    pub mfa_attempts: i64,
    /// Epoch milliseconds: created, first claimed, ended.
    pub created_at: i64,
    /// First claimed by a worker.
    pub started_at: Option<i64>,
    /// Reached its final status.
    pub finished_at: Option<i64>,
    /// Movements new across accounts.
    pub new_movements: i64,
    /// Per-account outcomes.
    pub accounts: Vec<OpsAccountResult>,
}

/// One account's outcome in a refresh.
#[derive(Clone, Debug)]
pub struct OpsAccountResult {
    /// `acc_…`
    pub account_id: String,
    /// The account's name at the bank.
    pub account_name: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Why it failed.
    pub public_error: Option<String>,
    /// Movements new, modified and removed.
    pub new: i64,
    /// Modified.
    pub modified: i64,
    /// Removed.
    pub removed: i64,
}

const LINK_SELECT: &str = "SELECT l.id, o.name AS organization, l.mode, l.institution_id,
        l.institution_name, l.holder_type, l.holder_id, l.active, l.credential_status,
        l.refresh_status, l.last_time_refreshed, l.created_at,
        (SELECT i.public_error FROM refresh_intents i WHERE i.link_id = l.id
         ORDER BY i.created_at DESC, i.id DESC LIMIT 1) AS last_error,
        (SELECT i.failure_reason FROM refresh_intents i WHERE i.link_id = l.id
         ORDER BY i.created_at DESC, i.id DESC LIMIT 1) AS last_failure_reason
    FROM links l JOIN organizations o ON o.id = l.organization_id";

fn link_of(row: &AnyRow) -> anyhow::Result<OpsLink> {
    Ok(OpsLink {
        id: row.try_get("id")?,
        organization: row.try_get("organization")?,
        mode: row.try_get("mode")?,
        institution_id: row.try_get("institution_id")?,
        institution_name: row.try_get("institution_name")?,
        holder_type: row.try_get("holder_type")?,
        holder_id: row.try_get("holder_id")?,
        active: row.try_get::<i64, _>("active")? != 0,
        credential_status: row.try_get("credential_status")?,
        refresh_status: row.try_get("refresh_status")?,
        last_time_refreshed: row.try_get("last_time_refreshed")?,
        last_error: row.try_get("last_error")?,
        last_failure_reason: row.try_get("last_failure_reason")?,
        created_at: row.try_get("created_at")?,
    })
}

/// `%text%` for `LIKE … ESCAPE '\'`, lower-cased, with the wildcards in `text` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// Links not deleted whose id, holder id, institution or organization contains `search`
    /// (every link when it is empty), newest first; `limit` of them after `offset`.
    pub async fn ops_links(
        &self,
        search: &str,
        limit: i64,
        offset: i64,
    ) -> anyhow::Result<Vec<OpsLink>> {
        let sql = format!(
            "{LINK_SELECT}
             WHERE l.deleted_at IS NULL
               AND ($1 = '%%' OR LOWER(l.id) LIKE $1 ESCAPE '\\'
                    OR LOWER(l.holder_id) LIKE $1 ESCAPE '\\'
                    OR LOWER(l.institution_id) LIKE $1 ESCAPE '\\'
                    OR LOWER(l.institution_name) LIKE $1 ESCAPE '\\'
                    OR LOWER(o.name) LIKE $1 ESCAPE '\\')
             ORDER BY l.created_at DESC, l.id DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(contains_pattern(search))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(link_of).collect()
    }

    /// One link (deleted ones too), by id.
    pub async fn ops_link(&self, id: &str) -> anyhow::Result<Option<OpsLink>> {
        let row = sqlx::query(&format!("{LINK_SELECT} WHERE l.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(link_of).transpose()
    }

    /// A link's latest `limit` refresh intents, newest first, each with its accounts' outcomes.
    pub async fn ops_link_intents(
        &self,
        link_id: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<OpsIntent>> {
        let rows = sqlx::query(
            "SELECT id, refresh_type, status, public_error, failure_reason, mfa_kind,
                    mfa_completed, mfa_attempts, created_at, started_at, finished_at,
                    new_movements
             FROM refresh_intents WHERE link_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(link_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut intents = Vec::with_capacity(rows.len());
        for row in &rows {
            intents.push(OpsIntent {
                id: row.try_get("id")?,
                refresh_type: row.try_get("refresh_type")?,
                status: row.try_get("status")?,
                public_error: row.try_get("public_error")?,
                failure_reason: row.try_get("failure_reason")?,
                mfa_kind: row.try_get("mfa_kind")?,
                mfa_completed: row.try_get::<i64, _>("mfa_completed")? != 0,
                mfa_attempts: row.try_get("mfa_attempts")?,
                created_at: row.try_get("created_at")?,
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
                new_movements: row.try_get("new_movements")?,
                accounts: Vec::new(),
            });
        }
        let results = sqlx::query(
            "SELECT r.refresh_intent_id, r.account_id, a.name, r.status, r.public_error,
                    r.new_movements, r.modified_movements, r.removed_movements
             FROM account_refresh_results r
             JOIN refresh_intents i ON i.id = r.refresh_intent_id
             JOIN accounts a ON a.id = r.account_id
             WHERE i.link_id = $1
             ORDER BY a.position, a.id",
        )
        .bind(link_id)
        .fetch_all(&self.read)
        .await?;
        for row in &results {
            let intent_id: String = row.try_get("refresh_intent_id")?;
            if let Some(intent) = intents.iter_mut().find(|i| i.id == intent_id) {
                intent.accounts.push(OpsAccountResult {
                    account_id: row.try_get("account_id")?,
                    account_name: row.try_get("name")?,
                    status: row.try_get("status")?,
                    public_error: row.try_get("public_error")?,
                    new: row.try_get("new_movements")?,
                    modified: row.try_get("modified_movements")?,
                    removed: row.try_get("removed_movements")?,
                });
            }
        }
        Ok(intents)
    }
}
