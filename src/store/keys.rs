//! Organizations and API keys.

use std::time::Instant;

use sqlx::Row;

use super::links::link_columns;
use super::rows::link_from_row;
use super::Store;
use crate::domain::{ApiKeyId, KeyKind, Link, LinkId, Mode, OrganizationId, Principal, Timestamp};

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
    /// Whether any live-mode key exists: the deployment serves real people's banks.
    pub async fn has_live_keys(&self) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT 1 FROM api_keys WHERE mode = 'live' LIMIT 1")
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }

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
        Ok(self
            .principal_with_link(key_hash, None)
            .await?
            .map(|(principal, _)| principal))
    }

    /// The principal a key hash belongs to and, when `link_id` is given, that live link of
    /// the principal's organization and mode with its stored token hash: what a request with
    /// a key and a link token needs. The principal usually comes from the key cache, and then
    /// only the link is read; otherwise both are read in one statement.
    pub async fn principal_with_link(
        &self,
        key_hash: &str,
        link_id: Option<&LinkId>,
    ) -> anyhow::Result<Option<(Principal, Option<(Link, String)>)>> {
        let now = Instant::now();
        if let Some(principal) = self.key_cache.get(key_hash, now) {
            let link = match link_id {
                Some(id) => {
                    self.link_with_token_hash(&principal.organization_id, principal.mode, id)
                        .await?
                }
                None => None,
            };
            return Ok(Some((principal, link)));
        }
        // A NULL `$2` matches no link, so the same statement serves a key alone.
        const SQL: &str = concat!(
            "SELECT k.organization_id AS key_organization_id, k.mode AS key_mode,
                    k.kind AS key_kind, ",
            link_columns!(l),
            ", l.token_hash AS token_hash
             , k.expires_at AS key_expires_at
             FROM api_keys k
             LEFT JOIN links l ON l.id = $2 AND l.organization_id = k.organization_id
                 AND l.mode = k.mode AND l.deleted_at IS NULL
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL
               AND (k.expires_at IS NULL OR k.expires_at > $3)"
        );
        let row = sqlx::query(SQL)
            .bind(key_hash)
            .bind(link_id.map(LinkId::as_str))
            .bind(Timestamp::now().millis())
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mode: String = row.try_get("key_mode")?;
        let kind: String = row.try_get("key_kind")?;
        let principal = Principal {
            organization_id: OrganizationId::from_trusted(row.try_get("key_organization_id")?),
            mode: Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("bad mode {mode:?}"))?,
            kind: if kind == KeyKind::Secret.as_str() {
                KeyKind::Secret
            } else {
                KeyKind::Public
            },
        };
        // A key with an end (in a rotation's overlap) is read each time, so it stops at its end.
        if row.try_get::<Option<i64>, _>("key_expires_at")?.is_none() {
            self.key_cache.insert(key_hash, &principal, now);
        }
        let link = match row.try_get::<Option<String>, _>("token_hash")? {
            Some(hash) => Some((link_from_row(&row)?, hash)),
            None => None,
        };
        Ok(Some((principal, link)))
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
