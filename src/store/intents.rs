//! Refresh intents as stored: their columns, how a row becomes a [`RefreshIntent`], and the
//! reads of intents and of their per-account results. Creating one is in `refresh.rs`.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::get_time;
use super::{PageRequest, Paged, Store};
use crate::domain::*;

/// A refresh intent row's columns, as [`intent_from_row`] reads them: a macro, so that
/// statements that return them are composed at compile time (`concat!`).
macro_rules! intent_columns {
    () => {
        "id, organization_id, mode, link_id, refresh_type, status, \
        forced_result, new_movements, public_error, failure_reason, mfa_kind, mfa_completed, \
        mfa_expires_at, created_at, started_at, finished_at, widget_token_sealed"
    };
}
pub(super) use intent_columns;

pub(super) const INTENT_COLUMNS: &str = intent_columns!();

pub(super) fn intent_from_row(row: &AnyRow) -> anyhow::Result<RefreshIntent> {
    let parse = |col: &str| -> anyhow::Result<String> { Ok(row.try_get::<String, _>(col)?) };
    let status =
        IntentStatus::parse(&parse("status")?).ok_or_else(|| anyhow::anyhow!("bad status"))?;
    let mfa_kind: Option<String> = row.try_get("mfa_kind")?;
    let mfa_completed = row.try_get::<i64, _>("mfa_completed")? != 0;
    let forced: Option<String> = row.try_get("forced_result")?;
    let public_error: Option<String> = row.try_get("public_error")?;
    Ok(RefreshIntent {
        id: RefreshIntentId::from_trusted(parse("id")?),
        organization_id: OrganizationId::from_trusted(parse("organization_id")?),
        mode: Mode::parse(&parse("mode")?).ok_or_else(|| anyhow::anyhow!("bad mode"))?,
        link_id: LinkId::from_trusted(parse("link_id")?),
        refresh_type: RefreshType::parse(&parse("refresh_type")?)
            .ok_or_else(|| anyhow::anyhow!("bad refresh type"))?,
        status,
        new_movements: row.try_get("new_movements")?,
        public_error: public_error.as_deref().and_then(PublicError::parse),
        failure_reason: row.try_get("failure_reason")?,
        mfa_pending: mfa_kind
            .as_deref()
            .and_then(MfaMethod::parse)
            .filter(|_| !mfa_completed && status == IntentStatus::Created),
        mfa_expires_at: get_time(row, "mfa_expires_at")?,
        forced_result: forced.as_deref().and_then(IntentStatus::parse),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        started_at: get_time(row, "started_at")?,
        finished_at: get_time(row, "finished_at")?,
        widget_token_sealed: row.try_get("widget_token_sealed")?,
    })
}

impl Store {
    /// Any intent by id (internal use: workers and MFA).
    pub async fn refresh_intent_by_id(
        &self,
        id: &RefreshIntentId,
    ) -> anyhow::Result<Option<RefreshIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM refresh_intents WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(intent_from_row).transpose()
    }

    /// One intent of a link.
    pub async fn refresh_intent(
        &self,
        link_id: &LinkId,
        id: &RefreshIntentId,
    ) -> anyhow::Result<Option<RefreshIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM refresh_intents WHERE id = $1 AND link_id = $2"
        ))
        .bind(id.as_str())
        .bind(link_id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(intent_from_row).transpose()
    }

    /// A page of a link's intents, newest first.
    pub async fn list_refresh_intents(
        &self,
        link_id: &LinkId,
        page: PageRequest,
    ) -> anyhow::Result<Paged<RefreshIntent>> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM refresh_intents WHERE link_id = $1")
                .bind(link_id.as_str())
                .fetch_one(&self.read)
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM refresh_intents WHERE link_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(link_id.as_str())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&self.read)
        .await?;
        Paged::from_rows(&rows, total, intent_from_row)
    }

    /// The widget token hash and the intent it opens (for the widget-facing MFA endpoint).
    pub async fn widget_token_hash(
        &self,
        id: &RefreshIntentId,
    ) -> anyhow::Result<Option<(String, OrganizationId, Mode)>> {
        let row = sqlx::query(
            "SELECT widget_token_hash, organization_id, mode FROM refresh_intents
             WHERE id = $1 AND widget_token_hash IS NOT NULL",
        )
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mode: String = row.try_get("mode")?;
        Ok(Some((
            row.try_get("widget_token_hash")?,
            OrganizationId::from_trusted(row.try_get("organization_id")?),
            Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("bad mode"))?,
        )))
    }

    /// Per-account results of an intent: (account id, status, public_error, new, modified,
    /// removed), in account order.
    pub async fn account_results(
        &self,
        intent_id: &RefreshIntentId,
    ) -> anyhow::Result<Vec<(AccountId, IntentStatus, Option<PublicError>, i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT r.account_id, r.status, r.public_error, r.new_movements, r.modified_movements,
                    r.removed_movements
             FROM account_refresh_results r JOIN accounts a ON a.id = r.account_id
             WHERE r.refresh_intent_id = $1 ORDER BY a.position",
        )
        .bind(intent_id.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let error: Option<String> = row.try_get("public_error")?;
                Ok((
                    AccountId::from_trusted(row.try_get("account_id")?),
                    IntentStatus::parse(&status).ok_or_else(|| anyhow::anyhow!("bad status"))?,
                    error.as_deref().and_then(PublicError::parse),
                    row.try_get("new_movements")?,
                    row.try_get("modified_movements")?,
                    row.try_get("removed_movements")?,
                ))
            })
            .collect()
    }
}
