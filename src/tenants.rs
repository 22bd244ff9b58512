//! Organizations and their API keys: creating key pairs, rotating a key, and the default
//! organization a newcomer gets on the first `serve`.

use serde::Serialize;

use crate::crypto::{random_token, MasterKey};
use crate::domain::{ApiKeyId, KeyKind, Mode, OrganizationId, Timestamp};
use crate::store::{ApiKeyRecord, NewKeyPair, ReplacementKey, RotationError, Store};

/// Name of the organization created on the first start.
pub const DEFAULT_ORGANIZATION: &str = "default";

/// A freshly created key pair. The keys themselves exist only in this value: the database
/// keeps their hashes.
#[derive(Clone, Serialize)]
pub struct KeyPair {
    /// The organization the keys belong to.
    pub organization_id: String,
    /// `test` or `live`.
    pub mode: &'static str,
    /// `sk_<mode>_…`
    pub secret_key: String,
    /// `pk_<mode>_…`
    pub public_key: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("organization_id", &self.organization_id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn new_key(kind: KeyKind, mode: Mode) -> String {
    format!("{}_{}_{}", kind.prefix(), mode.as_str(), random_token(32))
}

/// Shows the start and the last four characters, so a person can tell keys apart.
fn hint(key: &str) -> String {
    let prefix_len = "sk_test_".len().min(key.len());
    let tail = &key[key.len().saturating_sub(4)..];
    format!("{}…{tail}", &key[..prefix_len])
}

/// Creates organization `name` if needed and a new key pair for it in `mode`.
pub async fn create_key_pair(
    store: &Store,
    keys: &MasterKey,
    name: &str,
    mode: Mode,
) -> anyhow::Result<KeyPair> {
    let secret_key = new_key(KeyKind::Secret, mode);
    let public_key = new_key(KeyKind::Public, mode);
    let organization_id: OrganizationId = store
        .create_key_pair(
            name,
            &NewKeyPair {
                mode,
                secret_hash: keys.hash_token(&secret_key),
                secret_hint: hint(&secret_key),
                public_hash: keys.hash_token(&public_key),
                public_hint: hint(&public_key),
            },
        )
        .await?;
    Ok(KeyPair {
        organization_id: organization_id.to_string(),
        mode: mode.as_str(),
        secret_key,
        public_key,
    })
}

/// On an empty database, creates the default organization with test keys and returns them
/// (to be printed once). Returns `None` when any organization already exists.
pub async fn ensure_default_organization(
    store: &Store,
    keys: &MasterKey,
) -> anyhow::Result<Option<KeyPair>> {
    if store.has_organizations().await? {
        return Ok(None);
    }
    create_key_pair(store, keys, DEFAULT_ORGANIZATION, Mode::Test)
        .await
        .map(Some)
}

/// A rotation's result: the old key, which works until its `expires_at`, and its
/// replacement, whose key exists only here.
#[derive(Debug)]
pub struct Rotated {
    /// The old key, with its new end.
    pub old: ApiKeyRecord,
    /// The replacement's record.
    pub new: ApiKeyRecord,
    /// The replacement key itself, to show once.
    pub key: String,
}

/// Rotates the working key `id`: a new key of the same organization, mode and kind, with the
/// old one still working for `overlap` so that clients can switch without refusals.
pub async fn rotate_key(
    store: &Store,
    keys: &MasterKey,
    id: &ApiKeyId,
    overlap: std::time::Duration,
) -> Result<Rotated, RotationError> {
    let Some(old) = store.key_by_id(id).await? else {
        return Err(RotationError::NotFound(id.clone()));
    };
    let key = new_key(old.kind, old.mode);
    let replacement = ReplacementKey {
        key_hash: keys.hash_token(&key),
        hint: hint(&key),
    };
    let overlap = i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX);
    let until = Timestamp::now().plus_millis(overlap);
    let (old, new) = store.rotate_key(id, &replacement, until).await?;
    Ok(Rotated { old, new, key })
}
