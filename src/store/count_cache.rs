//! Totals of movement lists already counted, so that paging through an account whose movements
//! did not change does not count them again for every page (a count walks every index entry of
//! the filter: about a sixth of a page of 300).
//!
//! An account's `movements_version` goes up in the same transaction as every write of its
//! movements. A page's statement reads the version and counts only when it differs from the
//! cached one, in one statement, so one snapshot: a total answered from the cache is the count
//! of the snapshot the page was read in. That holds across processes on one PostgreSQL
//! database too, since the version is in the database, not in the cache.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most totals kept: when full, the cache starts again empty rather than tracking which entry
/// to evict (an entry is an account and a filter; a miss costs one count).
const MAX_TOTALS: usize = 100_000;

/// An account and a filter: (account id, since, until, confirmed only).
pub type ListKey = (String, i64, i64, bool);

/// The cache; shared by every clone of a [`super::Store`].
#[derive(Debug, Default)]
pub struct CountCache {
    totals: Mutex<HashMap<ListKey, (i64, i64)>>,
}

impl CountCache {
    /// The (version, total) last counted for `key`.
    pub fn get(&self, key: &ListKey) -> Option<(i64, i64)> {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        totals.get(key).copied()
    }

    /// Remembers that `key` counted `total` at `version`.
    pub fn insert(&self, key: ListKey, version: i64, total: i64) {
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        if totals.len() >= MAX_TOTALS && !totals.contains_key(&key) {
            totals.clear();
        }
        totals.insert(key, (version, total));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> ListKey {
        (format!("acc_{n}"), i64::MIN, i64::MAX, true)
    }

    #[test]
    fn a_total_is_kept_with_its_version_and_replaced_by_a_newer_one() {
        let cache = CountCache::default();
        assert_eq!(cache.get(&key(1)), None);
        cache.insert(key(1), 3, 2450);
        assert_eq!(cache.get(&key(1)), Some((3, 2450)));
        cache.insert(key(1), 4, 2500);
        assert_eq!(cache.get(&key(1)), Some((4, 2500)));
        let other_filter = ("acc_1".to_owned(), 0, i64::MAX, true);
        assert_eq!(
            cache.get(&other_filter),
            None,
            "a total belongs to its filter"
        );
    }

    #[test]
    fn a_full_cache_starts_again_empty() {
        let cache = CountCache::default();
        for n in 0..MAX_TOTALS {
            cache.insert(key(n), 0, n as i64);
        }
        cache.insert(key(1), 1, 7);
        assert_eq!(
            cache.get(&key(2)),
            Some((0, 2)),
            "updating a kept key clears nothing"
        );
        cache.insert(key(MAX_TOTALS), 0, 1);
        assert_eq!(cache.get(&key(2)), None);
        assert_eq!(cache.get(&key(MAX_TOTALS)), Some((0, 1)));
    }
}
