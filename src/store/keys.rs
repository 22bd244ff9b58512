//! Organizations and API keys.

use sqlx::Row;

use super::Store;
use crate::domain::{ApiKeyId, KeyKind, Mode, OrganizationId, Principal, Timestamp};

/// A key pair to store: the hashes (never the keys) and display hints.
#[derive(Debug)]
pub struct NewKeyPair {
    /// Mode of both keys.
    pub mode: Mode,
    /// Keyed hash of the secret key.
    pub secret_hash: String,
    /// e.g. `sk_test_…a1B2`.
    pub secret_hint: String,
    /// Keyed hash of the public key.
    pub public_hash: String,
    /// e.g. `pk_test_…c3D4`.
    pub public_hint: String,
}

impl Store {
    /// Whether any organization exists yet (the first `serve` creates one).
    pub async fn has_organizations(&self) -> anyhow::Result<bool> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(&self.read)
            .await?;
        Ok(count > 0)
    }

    /// Finds the organization called `name`, creating it if needed, and stores a key pair
    /// for it, all in one transaction.
    #[tracing::instrument(skip(self, keys), fields(mode = keys.mode.as_str()))]
    pub async fn create_key_pair(
        &self,
        organization_name: &str,
        keys: &NewKeyPair,
    ) -> anyhow::Result<OrganizationId> {
        let mut tx = self.begin().await?;
        let now = Timestamp::now().millis();
        let candidate = OrganizationId::generate();
        sqlx::query(
            "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(candidate.as_str())
        .bind(organization_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let org_id: String = sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
            .bind(organization_name)
            .fetch_one(&mut *tx)
            .await?;
        for (kind, hash, hint) in [
            (KeyKind::Secret, &keys.secret_hash, &keys.secret_hint),
            (KeyKind::Public, &keys.public_hash, &keys.public_hint),
        ] {
            sqlx::query(
                "INSERT INTO api_keys (id, organization_id, mode, kind, key_hash, hint, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(ApiKeyId::generate().as_str())
            .bind(&org_id)
            .bind(keys.mode.as_str())
            .bind(kind.as_str())
            .bind(hash)
            .bind(hint)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(OrganizationId::from_trusted(org_id))
    }

    /// The principal a key hash belongs to, if any. The hash is looked up by index; the
    /// caller already compared nothing secret, since only hashes are stored.
    pub async fn find_principal(&self, key_hash: &str) -> anyhow::Result<Option<Principal>> {
        let row =
            sqlx::query("SELECT organization_id, mode, kind FROM api_keys WHERE key_hash = $1")
                .bind(key_hash)
                .fetch_optional(&self.read)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let mode: String = row.try_get("mode")?;
        let kind: String = row.try_get("kind")?;
        let kind = if kind == KeyKind::Secret.as_str() {
            KeyKind::Secret
        } else {
            KeyKind::Public
        };
        Ok(Some(Principal {
            organization_id: OrganizationId::from_trusted(row.try_get("organization_id")?),
            mode: Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("bad mode {mode:?}"))?,
            kind,
        }))
    }
}

impl Store {
    /// The id of the organization called `name`.
    pub async fn organization_by_name(&self, name: &str) -> anyhow::Result<Option<OrganizationId>> {
        let id: Option<String> = sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        Ok(id.map(OrganizationId::from_trusted))
    }
}
