//! Principals of recently used API keys, kept in memory so that an authenticated request does
//! not read its key from the database every time.
//!
//! A key's principal never changes; what can change is whether the key still works. A process
//! that revokes or rotates a key forgets it here at once ([`KeyCache::forget`]); other
//! processes on the same PostgreSQL database trust their entry for at most [`KEY_CACHE_TTL`],
//! so a revocation reaches every process within that time. A key with an end (a rotated key
//! in its overlap) is never cached, so it stops at its end everywhere. Only hits are kept: a
//! key created after a miss (by `keys create`, or by another process) is found at its first
//! use. Entries are keyed by the keyed hash the database stores, never by the key itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Principal;

/// How long a cached principal is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);
/// Most keys kept. An organization uses a handful; when full, the cache starts again empty
/// rather than tracking which entry to evict.
const MAX_KEYS: usize = 10_000;

/// The cache; shared by every clone of a [`super::Store`].
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl KeyCache {
    /// The principal of `key_hash` if it was stored less than [`KEY_CACHE_TTL`] before `now`.
    pub fn get(&self, key_hash: &str, now: Instant) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (principal, stored) = entries.get(key_hash)?;
        (now.saturating_duration_since(*stored) < KEY_CACHE_TTL).then(|| principal.clone())
    }

    /// Forgets `key_hash` (revoked or rotated here).
    pub fn forget(&self, key_hash: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key_hash);
    }

    /// Remembers that `key_hash` belongs to `principal`, as read at `now`.
    pub fn insert(&self, key_hash: &str, principal: &Principal, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_KEYS && !entries.contains_key(key_hash) {
            entries.clear();
        }
        entries.insert(key_hash.to_owned(), (principal.clone(), now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{KeyKind, Mode, OrganizationId};

    fn principal(n: usize) -> Principal {
        Principal {
            organization_id: OrganizationId::from_trusted(format!("org_{n}")),
            mode: Mode::Test,
            kind: KeyKind::Secret,
        }
    }

    #[test]
    fn a_hit_is_trusted_for_the_ttl_only() {
        let cache = KeyCache::default();
        let start = Instant::now();
        assert_eq!(cache.get("h1", start), None);
        cache.insert("h1", &principal(1), start);
        assert_eq!(cache.get("h1", start), Some(principal(1)));
        assert_eq!(cache.get("h2", start), None);
        let almost = start + KEY_CACHE_TTL - Duration::from_millis(1);
        assert_eq!(cache.get("h1", almost), Some(principal(1)));
        assert_eq!(cache.get("h1", start + KEY_CACHE_TTL), None);
        // Read again, it is trusted again from then.
        cache.insert("h1", &principal(1), start + KEY_CACHE_TTL);
        assert_eq!(
            cache.get("h1", start + KEY_CACHE_TTL * 2 - Duration::from_millis(1)),
            Some(principal(1))
        );
    }

    #[test]
    fn it_never_holds_more_than_its_bound() {
        let cache = KeyCache::default();
        let now = Instant::now();
        for n in 0..MAX_KEYS {
            cache.insert(&format!("h{n}"), &principal(n), now);
        }
        assert_eq!(cache.get("h0", now), Some(principal(0)));
        // A known key is refreshed in place; a new one when full starts again.
        cache.insert("h0", &principal(0), now);
        assert_eq!(cache.get("h1", now), Some(principal(1)));
        cache.insert("new", &principal(7), now);
        assert_eq!(cache.get("new", now), Some(principal(7)));
        assert_eq!(cache.get("h1", now), None);
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
    }
}
