//! Movement diffing: what a fetch from the bank changes, compared with what is stored.
//! Pure, so idempotency ("the same bank data twice gives the same rows") is a property of this
//! function and can be tested without a database.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::ids::MovementId;
use super::model::MovementData;

/// A stored movement as the diff needs it.
#[derive(Clone, Debug)]
pub struct StoredMovement {
    /// Our id.
    pub id: MovementId,
    /// What we stored last time.
    pub data: MovementData,
    /// Already marked removed.
    pub removed: bool,
}

/// The changes one fetch makes to one account.
#[derive(Debug, Default)]
pub struct MovementDiff {
    /// Movements the bank shows for the first time.
    pub new: Vec<MovementData>,
    /// Stored movements whose bank data changed (or that came back after a removal).
    pub modified: Vec<(MovementId, MovementData)>,
    /// Stored movements inside the fetched window that the bank no longer shows.
    pub removed: Vec<MovementId>,
}

impl MovementDiff {
    /// True when the fetch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

/// Compares `fetched` (everything the bank returned for `since..=until`) with `stored`.
///
/// Only stored movements inside the window can be judged removed: the bank said nothing about
/// the others. When the bank repeats a `bank_id` within one fetch, the last copy wins, so a
/// sloppy connector cannot create duplicates.
pub fn diff_movements(
    stored: &[StoredMovement],
    fetched: Vec<MovementData>,
    since: NaiveDate,
    until: NaiveDate,
) -> MovementDiff {
    let by_bank_id: HashMap<&str, &StoredMovement> = stored
        .iter()
        .map(|m| (m.data.bank_id.as_str(), m))
        .collect();
    let mut latest: HashMap<String, MovementData> = HashMap::new();
    let mut order = Vec::new();
    for movement in fetched {
        if !latest.contains_key(&movement.bank_id) {
            order.push(movement.bank_id.clone());
        }
        latest.insert(movement.bank_id.clone(), movement);
    }

    let mut diff = MovementDiff::default();
    let mut seen = HashSet::new();
    for bank_id in order {
        let movement = latest
            .remove(&bank_id)
            .expect("every ordered id is present");
        seen.insert(bank_id.clone());
        match by_bank_id.get(bank_id.as_str()) {
            None => diff.new.push(movement),
            Some(existing) if existing.removed || existing.data != movement => {
                diff.modified.push((existing.id.clone(), movement))
            }
            Some(_) => {}
        }
    }
    for existing in stored {
        let in_window = existing.data.post_date >= since && existing.data.post_date <= until;
        if in_window && !existing.removed && !seen.contains(&existing.data.bank_id) {
            diff.removed.push(existing.id.clone());
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, MovementStatus, MovementType};

    fn movement(bank_id: &str, day: u32, amount: i64) -> MovementData {
        MovementData {
            bank_id: bank_id.into(),
            amount,
            currency: Currency::parse("CLP").unwrap(),
            description: format!("Traspaso {bank_id}"),
            post_date: NaiveDate::from_ymd_opt(2026, 1, day).unwrap(),
            transaction_date: None,
            movement_type: MovementType::Transfer,
            status: MovementStatus::Confirmed,
            pending: false,
            reference_id: None,
            comment: None,
            sender_account: None,
            recipient_account: None,
        }
    }

    fn stored(data: MovementData) -> StoredMovement {
        StoredMovement {
            id: MovementId::generate(),
            data,
            removed: false,
        }
    }

    fn jan(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, day).unwrap()
    }

    #[test]
    fn same_data_twice_changes_nothing() {
        let fetched = vec![movement("a", 2, 10), movement("b", 3, -5)];
        let first = diff_movements(&[], fetched.clone(), jan(1), jan(31));
        assert_eq!(first.new.len(), 2);
        let rows: Vec<_> = first.new.into_iter().map(stored).collect();
        assert!(diff_movements(&rows, fetched, jan(1), jan(31)).is_empty());
    }

    #[test]
    fn detects_new_modified_and_removed_within_window_only() {
        let rows = vec![
            stored(movement("a", 2, 10)),
            stored(movement("b", 3, -5)),
            stored(movement("old", 1, 7)),
        ];
        let mut changed = movement("a", 2, 10);
        changed.status = MovementStatus::Reversed;
        let fetched = vec![changed.clone(), movement("c", 4, 99)];
        let diff = diff_movements(&rows, fetched, jan(2), jan(31));
        assert_eq!(diff.new.len(), 1);
        assert_eq!(diff.new[0].bank_id, "c");
        assert_eq!(diff.modified, vec![(rows[0].id.clone(), changed)]);
        assert_eq!(
            diff.removed,
            vec![rows[1].id.clone()],
            "'old' is outside the window"
        );
    }

    #[test]
    fn repeated_bank_ids_in_one_fetch_do_not_duplicate() {
        let diff = diff_movements(
            &[],
            vec![movement("a", 2, 1), movement("a", 2, 2)],
            jan(1),
            jan(31),
        );
        assert_eq!(diff.new.len(), 1);
        assert_eq!(diff.new[0].amount, 2);
    }

    #[test]
    fn a_removed_movement_that_returns_is_modified_not_new() {
        let mut row = stored(movement("a", 2, 10));
        row.removed = true;
        let diff = diff_movements(&[row.clone()], vec![movement("a", 2, 10)], jan(1), jan(31));
        assert!(diff.new.is_empty());
        assert_eq!(diff.modified.len(), 1);
        assert!(diff.removed.is_empty());
    }
}
