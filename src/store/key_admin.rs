//! Administering organizations and API keys: listing, creating, revoking and rotating. Keys
//! are found for requests in `keys.rs`; a revoked key, or one past its rotation's overlap, is
//! not found there.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::get_time;
use super::Store;
use crate::domain::{ApiKeyId, KeyKind, Mode, OrganizationId, Timestamp};

/// An organization.
#[derive(Clone, Debug)]
pub struct Organization {
    /// `org_…`
    pub id: OrganizationId,
    /// Its unique name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A stored API key, as an operator sees it: never the key, only its hint.
#[derive(Clone, Debug)]
pub struct ApiKeyRecord {
    /// `key_…`
    pub id: ApiKeyId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// `test` or `live`.
    pub mode: Mode,
    /// Secret or public.
    pub kind: KeyKind,
    /// e.g. `sk_test_…a1B2`.
    pub hint: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When it stops working (a rotated key, after the overlap).
    pub expires_at: Option<Timestamp>,
}

/// A key to add beside an existing one (a rotation's replacement): its hash and hint.
#[derive(Debug)]
pub struct ReplacementKey {
    /// Keyed hash of the new key.
    pub key_hash: String,
    /// Its hint.
    pub hint: String,
}

/// Why a rotation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// No such key, or it no longer works (revoked, or past an earlier rotation's overlap).
    #[error("no working key {0}")]
    NotFound(ApiKeyId),
    /// Our failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

const KEY_COLUMNS: &str =
    "id, organization_id, mode, kind, hint, created_at, revoked_at, expires_at";

fn key_from_row(row: &AnyRow) -> anyhow::Result<ApiKeyRecord> {
    let mode: String = row.try_get("mode")?;
    let kind: String = row.try_get("kind")?;
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.try_get("id")?),
        organization_id: OrganizationId::from_trusted(row.try_get("organization_id")?),
        mode: Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("bad mode {mode:?}"))?,
        kind: if kind == KeyKind::Secret.as_str() {
            KeyKind::Secret
        } else {
            KeyKind::Public
        },
        hint: row.try_get("hint")?,
        created_at: get_time(row, "created_at")?.unwrap_or(Timestamp::from_millis(0)),
        revoked_at: get_time(row, "revoked_at")?,
        expires_at: get_time(row, "expires_at")?,
    })
}

fn organization_from_row(row: &AnyRow) -> anyhow::Result<Organization> {
    Ok(Organization {
        id: OrganizationId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        created_at: get_time(row, "created_at")?.unwrap_or(Timestamp::from_millis(0)),
    })
}

impl Store {
    /// Every organization, oldest first.
    pub async fn list_organizations(&self) -> anyhow::Result<Vec<Organization>> {
        let rows =
            sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(organization_from_row).collect()
    }

    /// Creates organization `name`; `None` when the name is taken.
    pub async fn create_organization(&self, name: &str) -> anyhow::Result<Option<Organization>> {
        let id = OrganizationId::generate();
        let done = sqlx::query(
            "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(Timestamp::now().millis())
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&self.write)
            .await?;
        organization_from_row(&row).map(Some)
    }

    /// An organization's keys, newest first.
    pub async fn list_keys(
        &self,
        organization_id: &OrganizationId,
    ) -> anyhow::Result<Vec<ApiKeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = $1
             ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(organization_id.as_str())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// One key by id.
    pub async fn key_by_id(&self, id: &ApiKeyId) -> anyhow::Result<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Revokes a key: it stops working at once in this process, and within the key cache's
    /// lifetime in others. Revoking a revoked key changes nothing. `None` when there is no
    /// such key.
    pub async fn revoke_key(&self, id: &ApiKeyId) -> anyhow::Result<Option<ApiKeyRecord>> {
        let hash: Option<String> = sqlx::query_scalar(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2
             RETURNING key_hash",
        )
        .bind(Timestamp::now().millis())
        .bind(id.as_str())
        .fetch_optional(&self.write)
        .await?;
        let Some(hash) = hash else { return Ok(None) };
        self.key_cache.forget(&hash);
        self.key_by_id(id).await
    }

    /// Rotates a working key: stores `replacement` with the same organization, mode and kind,
    /// and lets the old key work until `overlap_until` (or its own earlier end), in one
    /// transaction. Returns the old key as it is now and the replacement's record.
    pub async fn rotate_key(
        &self,
        id: &ApiKeyId,
        replacement: &ReplacementKey,
        overlap_until: Timestamp,
    ) -> Result<(ApiKeyRecord, ApiKeyRecord), RotationError> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin().await?;
        // The old key's row is changed first: on PostgreSQL a racing rotation of the same key
        // waits for this one and then finds the key's end already set.
        let old_hash: Option<String> = sqlx::query_scalar(
            "UPDATE api_keys SET expires_at = CASE
                 WHEN expires_at IS NULL OR expires_at > $1 THEN $1 ELSE expires_at END
             WHERE id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
             RETURNING key_hash",
        )
        .bind(overlap_until.millis())
        .bind(id.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(anyhow::Error::from)?;
        let Some(old_hash) = old_hash else {
            return Err(RotationError::NotFound(id.clone()));
        };
        let new_id = ApiKeyId::generate();
        sqlx::query(
            "INSERT INTO api_keys (id, organization_id, mode, kind, key_hash, hint, created_at)
             SELECT $1, organization_id, mode, kind, $2, $3, $4 FROM api_keys WHERE id = $5",
        )
        .bind(new_id.as_str())
        .bind(&replacement.key_hash)
        .bind(&replacement.hint)
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        // The cached entry carries no end: read the key again at its next use.
        self.key_cache.forget(&old_hash);
        let old = self.key_by_id(id).await?;
        let new = self.key_by_id(&new_id).await?;
        match (old, new) {
            (Some(old), Some(new)) => Ok((old, new)),
            _ => Err(anyhow::anyhow!("a rotated key vanished").into()),
        }
    }
}
