//! Idempotency records: the first response to each `Idempotency-Key`, replayed for 24 hours.

use std::sync::Arc;

use sqlx::Row;

use super::Store;
use crate::domain::{Mode, OrganizationId, RefreshIntent, Timestamp};

/// How long a key is remembered, as Fintoc documents.
pub const RETENTION_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// A response recorded for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// How a request is recognised when its idempotency key comes again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// What is stored: a digest keyed with the master key, starting with [`KEYED_PREFIX`], so
    /// a copy of the database does not let anyone test guesses of a request's content (a bank
    /// password in `POST /v1/links`) and the same request differs between installs.
    pub keyed: String,
    /// The request's canonical parts (method, path, query, body), for rows stored before
    /// fingerprints were keyed: they hold these parts' plain SHA-256 (without the prefix) and
    /// still match their request until they expire. It is computed only for such a row.
    pub parts: [String; 4],
}

/// Marks a keyed fingerprint.
pub const KEYED_PREFIX: &str = "k1:";

impl Fingerprint {
    /// Whether a stored fingerprint is this request's.
    pub fn matches(&self, stored: &str) -> bool {
        if stored.starts_with(KEYED_PREFIX) {
            stored == self.keyed
        } else {
            stored == self.unkeyed()
        }
    }

    /// The plain SHA-256 of the length-prefixed parts, as rows without a key hold it.
    pub fn unkeyed(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in &self.parts {
            hasher.update(part.len().to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// What claiming a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use: the caller runs the request and then records its response.
    Claimed,
    /// Seen before with the same request: replay this.
    Replay(StoredResponse),
    /// Seen before with the same request, whose first run has not finished.
    InProgress,
    /// Seen before with a different request.
    Mismatch,
}

/// An `Idempotency-Key` whose answer a create stores itself, in its own transaction: the key's
/// row is the create's claim of the key (a key already stored makes the create write nothing:
/// [`crate::domain::CreateIntentError::IdempotencyKeyTaken`]) and holds the answer at once, so
/// the key costs no write of its own and a crash cannot separate the intent from its answer.
#[derive(Clone)]
pub struct KeyedCreate {
    /// The key as the client sent it.
    pub key: String,
    /// The request's keyed fingerprint ([`Fingerprint::keyed`]).
    pub fingerprint: String,
    /// The answer's status.
    pub status: u16,
    /// How the answer to an intent is written and stored.
    pub answer: Arc<dyn IntentAnswer>,
}

impl std::fmt::Debug for KeyedCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedCreate")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The answer to a created intent, as the API writes it: the store asks for it before the
/// insert (for the intent it expects to store) and again after (for the intent stored), and
/// corrects the stored copy in the same transaction when the two differ.
pub trait IntentAnswer: Send + Sync {
    /// The response body for `intent`.
    fn body(&self, intent: &RefreshIntent) -> Vec<u8>;
    /// `body` as stored for replay (sealed).
    fn stored(&self, body: &[u8]) -> String;
}

impl Store {
    /// Stores `response` as the answer to `key` if the key is free (or expired): false when
    /// another request holds it. For a keyed request that ran without claiming its key first
    /// (a refused create, which wrote nothing).
    pub async fn record_idempotency_answer(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        key: &str,
        fingerprint: &str,
        response: &StoredResponse,
    ) -> anyhow::Result<bool> {
        let mut tx = self.begin().await?;
        let inserted = insert_free_key(
            &mut tx,
            organization_id,
            mode,
            key,
            fingerprint,
            Some(response),
        )
        .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Claims `key` for a request with `fingerprint` (its keyed form is stored), or reports what
    /// an earlier use left.
    /// Keys older than the retention period count as new.
    pub async fn claim_idempotency_key(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        key: &str,
        fingerprint: &Fingerprint,
    ) -> anyhow::Result<IdempotencyClaim> {
        let mut tx = self.begin().await?;
        let inserted = insert_free_key(
            &mut tx,
            organization_id,
            mode,
            key,
            &fingerprint.keyed,
            None,
        )
        .await?;
        let claim = if inserted {
            IdempotencyClaim::Claimed
        } else {
            let row = sqlx::query(
                "SELECT fingerprint, status_code, response_body FROM idempotency_keys
                 WHERE organization_id = $1 AND mode = $2 AND idempotency_key = $3",
            )
            .bind(organization_id.as_str())
            .bind(mode.as_str())
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            let stored_fingerprint: String = row.try_get("fingerprint")?;
            let status: Option<i64> = row.try_get("status_code")?;
            let body: Option<String> = row.try_get("response_body")?;
            match (fingerprint.matches(&stored_fingerprint), status, body) {
                (false, _, _) => IdempotencyClaim::Mismatch,
                (true, Some(status), Some(body)) => IdempotencyClaim::Replay(StoredResponse {
                    status: u16::try_from(status)?,
                    body,
                }),
                (true, _, _) => IdempotencyClaim::InProgress,
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Records the response of a claimed key.
    pub async fn complete_idempotency_key(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        key: &str,
        response: &StoredResponse,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = $1, response_body = $2
             WHERE organization_id = $3 AND mode = $4 AND idempotency_key = $5",
        )
        .bind(i64::from(response.status))
        .bind(&response.body)
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .bind(key)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Forgets a claimed key whose request could not produce a response (so a retry runs).
    pub async fn release_idempotency_key(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        key: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys
             WHERE organization_id = $1 AND mode = $2 AND idempotency_key = $3
               AND status_code IS NULL",
        )
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .bind(key)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

/// Inserts `key` with `fingerprint` (and `answer`, when the request already has one) unless
/// another request holds it; a key older than the retention period is dropped first, so it
/// counts as free. True when inserted.
async fn insert_free_key(
    conn: &mut sqlx::AnyConnection,
    organization_id: &OrganizationId,
    mode: Mode,
    key: &str,
    fingerprint: &str,
    answer: Option<&StoredResponse>,
) -> anyhow::Result<bool> {
    let now = Timestamp::now().millis();
    sqlx::query(
        "DELETE FROM idempotency_keys
         WHERE organization_id = $1 AND mode = $2 AND idempotency_key = $3
           AND created_at < $4",
    )
    .bind(organization_id.as_str())
    .bind(mode.as_str())
    .bind(key)
    .bind(now - RETENTION_MILLIS)
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys
            (organization_id, mode, idempotency_key, fingerprint, status_code,
             response_body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (organization_id, mode, idempotency_key) DO NOTHING",
    )
    .bind(organization_id.as_str())
    .bind(mode.as_str())
    .bind(key)
    .bind(fingerprint)
    .bind(answer.map(|a| i64::from(a.status)))
    .bind(answer.map(|a| a.body.as_str()))
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
