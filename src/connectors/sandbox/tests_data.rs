//! Tests of the generated data: determinism, windows, signs, history depth, changes.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{Days, Months, NaiveDate};

use crate::connectors::sandbox::tests::{creds, ctx, person, today};
use crate::connectors::sandbox::{
    chile, history_start, mexico, AccountSnapshot, SandboxBank, SandboxConfig,
};
use crate::connectors::{
    BankMovement, BankMovementStatus, BankMovementType, Credentials, DateWindow, FetchContext,
    HolderType,
};

fn cl() -> SandboxBank {
    chile(SandboxConfig::default())
}

fn snapshot(
    bank: &SandboxBank,
    creds: &Credentials,
    window: DateWindow,
    ctx: FetchContext,
) -> Vec<AccountSnapshot> {
    bank.snapshot(creds, window, &ctx).expect("snapshot")
}

fn movements(snapshot: &AccountSnapshot) -> &[BankMovement] {
    snapshot.movements.as_ref().expect("movements")
}

fn all_movements(snapshots: &[AccountSnapshot]) -> Vec<&BankMovement> {
    snapshots.iter().flat_map(|s| movements(s).iter()).collect()
}

fn days_before(days: u64) -> NaiveDate {
    today().checked_sub_days(Days::new(days)).unwrap()
}

#[test]
fn same_inputs_same_data_and_another_day_differs() {
    let user = person("41614850-3", "jonsnow");
    let window = DateWindow::last_days(today(), 60);
    let first = snapshot(&cl(), &user, window, ctx(0));
    assert_eq!(first, snapshot(&cl(), &user, window, ctx(0)));
    // Spelling the RUT differently is the same holder; latency modifiers do not change data.
    assert_eq!(
        first,
        snapshot(
            &cl(),
            &person("41.614.850-3", "jonsnow+slow1ms"),
            window,
            ctx(0)
        )
    );

    let tomorrow = FetchContext {
        today: today().succ_opt().unwrap(),
        refresh_number: 0,
    };
    let later = snapshot(
        &cl(),
        &user,
        DateWindow::last_days(tomorrow.today, 60),
        tomorrow,
    );
    assert_ne!(first, later);
    assert_ne!(
        first[0].account.balance_current,
        later[0].account.balance_current
    );
    assert_eq!(
        first[0].account.bank_id, later[0].account.bank_id,
        "account ids are stable"
    );

    let other = snapshot(&cl(), &person("40427672-7", "jonsnow"), window, ctx(0));
    assert_ne!(movements(&first[0]), movements(&other[0]));
}

#[test]
fn history_is_a_function_of_absolute_dates() {
    // The same past window fetched on two days gives the same movements (no check is still
    // pending that far back), so ingestion sees nothing change in the past.
    let user = person("41614850-3", "jonsnow");
    let window = DateWindow {
        since: days_before(40),
        until: days_before(10),
    };
    let now = snapshot(&cl(), &user, window, ctx(0));
    let later_day = FetchContext {
        today: today().checked_add_days(Days::new(5)).unwrap(),
        refresh_number: 3,
    };
    let later = snapshot(&cl(), &user, window, later_day);
    for (a, b) in now.iter().zip(&later) {
        assert_eq!(movements(a), movements(b));
    }
}

#[test]
fn windows_are_respected_and_history_has_a_depth() {
    let user = person("41614850-3", "jonsnow");
    for window in [
        DateWindow::last_days(today(), 1),
        DateWindow {
            since: days_before(20),
            until: days_before(12),
        },
        DateWindow {
            since: days_before(3),
            until: today().checked_add_days(Days::new(30)).unwrap(),
        },
    ] {
        for movement in all_movements(&snapshot(&cl(), &user, window, ctx(0))) {
            assert!(
                window.contains(movement.post_date),
                "{} outside {window:?}",
                movement.post_date
            );
            assert!(
                movement.post_date <= today(),
                "nothing is posted after today"
            );
        }
    }
    let empty = DateWindow {
        since: today(),
        until: days_before(1),
    };
    assert!(all_movements(&snapshot(&cl(), &user, empty, ctx(0))).is_empty());

    let everything = DateWindow {
        since: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        until: today(),
    };
    for (password, months) in [("jonsnow", 6), ("jonsnow+long_history", 24)] {
        let start = today().checked_sub_months(Months::new(months)).unwrap();
        assert_eq!(history_start(password, today()), Some(start));
        let snapshots = snapshot(&cl(), &person("41614850-3", password), everything, ctx(0));
        let oldest = all_movements(&snapshots)
            .iter()
            .map(|m| m.post_date)
            .min()
            .unwrap();
        assert_eq!(
            oldest, start,
            "{password}: history reaches back exactly {months} months"
        );
    }
}

#[test]
fn one_to_three_movements_per_account_per_day_with_unique_ids() {
    for (bank, user) in [
        (cl(), person("41614850-3", "jonsnow")),
        (
            mexico(SandboxConfig::default()),
            person("SAND800101AB1", "jonsnow"),
        ),
    ] {
        let snapshots = snapshot(&bank, &user, DateWindow::last_days(today(), 90), ctx(0));
        let mut ids = HashSet::new();
        for account in &snapshots {
            let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
            for movement in movements(account) {
                *per_day.entry(movement.post_date).or_default() += 1;
                assert!(ids.insert(movement.bank_id.clone()), "duplicate id");
            }
            assert_eq!(per_day.len(), 90, "every day has movements");
            assert!(per_day.values().all(|n| (1..=3).contains(n)));
            let dates: Vec<_> = movements(account).iter().map(|m| m.post_date).collect();
            assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
        }
    }
}

#[test]
fn amounts_signs_and_fields_are_consistent() {
    let window = DateWindow::last_days(today(), 120);
    let bank_mx = mexico(SandboxConfig::default());
    let cases = [
        (
            cl(),
            person("41614850-3", "jonsnow"),
            "Traspaso de: ",
            "Traspaso a: ",
        ),
        (
            cl(),
            creds("76.000.006-K", "jonsnow", HolderType::Business),
            "Traspaso de: ",
            "Traspaso a: ",
        ),
        (
            bank_mx,
            person("SAND800101AB1", "jonsnow"),
            "SPEI recibido de ",
            "SPEI enviado a ",
        ),
    ];
    for (bank, user, incoming, outgoing) in cases {
        let snapshots = snapshot(&bank, &user, window, ctx(0));
        let found = all_movements(&snapshots);
        let kinds: BTreeSet<BankMovementType> = found.iter().map(|m| m.movement_type).collect();
        assert_eq!(
            kinds,
            BTreeSet::from([
                BankMovementType::Check,
                BankMovementType::Other,
                BankMovementType::Transfer
            ])
        );
        for m in &found {
            assert_ne!(m.amount, 0);
            assert_eq!(m.currency, bank.institution_currency());
            assert_eq!(m.pending, m.status == BankMovementStatus::Pending);
            assert!(
                !m.pending
                    || (m.movement_type == BankMovementType::Check
                        && m.post_date >= days_before(1))
            );
            if let Some(at) = m.transaction_date {
                assert!(at.date_naive() < m.post_date, "{m:?}");
                assert!(
                    at <= chrono::Utc::now(),
                    "a transaction in the future: {m:?}"
                );
            }
            if m.status == BankMovementStatus::Reversed {
                assert!(m.amount < 0 && !m.pending, "{m:?}");
            }
            match m.movement_type {
                BankMovementType::Transfer if m.amount > 0 => {
                    assert!(m.description.starts_with(incoming), "{}", m.description);
                    let sender = m.sender_account.as_ref().expect("sender");
                    assert!(sender
                        .institution_id
                        .as_deref()
                        .unwrap()
                        .starts_with(bank.institution_country().as_str()));
                    assert!(m.recipient_account.is_none());
                }
                BankMovementType::Transfer => {
                    assert!(m.description.starts_with(outgoing), "{}", m.description);
                    assert!(m.recipient_account.is_some() && m.sender_account.is_none());
                }
                BankMovementType::Check => assert!(m.reference_id.is_some()),
                _ => assert!(m.sender_account.is_none() && m.recipient_account.is_none()),
            }
        }
        if bank.institution_currency() == "MXN" {
            assert!(
                found.iter().any(|m| m.amount % 100 != 0),
                "centavos are used"
            );
        }
    }
}

#[test]
fn a_historical_window_has_reversed_payments_and_no_future_times() {
    // Two years of one user's accounts: hundreds of outgoing payments, so a 3% rate all but
    // surely reverses some, whatever the day.
    let window = DateWindow::last_days(today(), 24 * 31);
    let snapshots = snapshot(&cl(), &person("41614850-3", "jonsnow"), window, ctx(0));
    let found = all_movements(&snapshots);
    let reversed = found
        .iter()
        .filter(|m| m.status == BankMovementStatus::Reversed)
        .count();
    let outgoing = found.iter().filter(|m| m.amount < 0).count();
    assert!(
        reversed > 0,
        "no reversed movement among {outgoing} payments"
    );
    assert!(
        reversed * 10 < outgoing,
        "{reversed} of {outgoing} reversed"
    );
    let now = chrono::Utc::now();
    assert!(found
        .iter()
        .filter_map(|m| m.transaction_date)
        .all(|at| at <= now));
}

#[test]
fn instant_user_has_two_accounts_of_25_recent_movements() {
    for (bank, user) in [
        (cl(), "41614850-3"),
        (mexico(SandboxConfig::default()), "SAND800101AB1"),
    ] {
        for days in [5, 30, 400] {
            let snapshots = snapshot(
                &bank,
                &person(user, "jonsnow+instant"),
                DateWindow::last_days(today(), days),
                ctx(0),
            );
            assert_eq!(snapshots.len(), 2);
            assert!(snapshots.iter().all(|s| movements(s).len() == 25));
        }
    }
}

/// (new, modified, removed) between two fetches of one account, by bank id.
fn diff(
    before: &[BankMovement],
    after: &[BankMovement],
) -> (
    Vec<BankMovement>,
    Vec<(BankMovement, BankMovement)>,
    Vec<BankMovement>,
) {
    let old: BTreeMap<_, _> = before.iter().map(|m| (m.bank_id.clone(), m)).collect();
    let new: BTreeMap<_, _> = after.iter().map(|m| (m.bank_id.clone(), m)).collect();
    let added = after
        .iter()
        .filter(|m| !old.contains_key(&m.bank_id))
        .cloned()
        .collect();
    let removed = before
        .iter()
        .filter(|m| !new.contains_key(&m.bank_id))
        .cloned()
        .collect();
    let modified = after
        .iter()
        .filter_map(|m| {
            old.get(&m.bank_id)
                .filter(|o| **o != m)
                .map(|o| ((*o).clone(), m.clone()))
        })
        .collect();
    (added, modified, removed)
}

#[test]
fn changes_scenario_adds_modifies_and_removes_predictably() {
    let user = person("41614850-3", "jonsnow+changes");
    let window = DateWindow::last_days(today(), 30);
    let plain = snapshot(&cl(), &person("41614850-3", "jonsnow"), window, ctx(0));
    let fetches: Vec<_> = (0..=12)
        .map(|r| snapshot(&cl(), &user, window, ctx(r)))
        .collect();
    // Without `+changes`, refreshes change nothing.
    assert_eq!(
        plain,
        snapshot(&cl(), &person("41614850-3", "jonsnow"), window, ctx(7))
    );

    for r in 1..=12usize {
        for (before, after) in fetches[r - 1].iter().zip(&fetches[r]) {
            let (added, modified, removed) = diff(movements(before), movements(after));
            let expected = if r <= 10 { (2, 1, 1) } else { (2, 0, 0) };
            assert_eq!(
                (added.len(), modified.len(), removed.len()),
                expected,
                "refresh {r}"
            );
            assert!(added.iter().all(|m| m.post_date == today()));
            assert!(removed.iter().all(|m| m.post_date >= days_before(5)));
            if let Some((old, new)) = modified.first() {
                assert_eq!(old.post_date, new.post_date);
                match r % 3 {
                    1 => assert!(
                        old.pending
                            && !new.pending
                            && new.status == BankMovementStatus::Confirmed
                            && new.movement_type == BankMovementType::Check
                    ),
                    2 => assert!(old.description != new.description && old.amount == new.amount),
                    _ => assert!(
                        old.amount != new.amount && old.amount.signum() == new.amount.signum()
                    ),
                }
            }
        }
    }
    // Refresh 0 of `+changes` is the plain history plus the journal's movements.
    for (plain, changing) in plain.iter().zip(&fetches[0]) {
        assert_eq!(movements(changing).len(), movements(plain).len() + 20);
    }
    // Same refresh number twice: identical (idempotent retries).
    assert_eq!(fetches[4], snapshot(&cl(), &user, window, ctx(4)));
}

#[test]
fn changes_apply_on_mexico_too() {
    let bank = mexico(SandboxConfig::default());
    let user = creds("SAN990401XY9", "jonsnow+changes", HolderType::Business);
    let window = DateWindow::last_days(today(), 6);
    let before = snapshot(&bank, &user, window, ctx(0));
    let after = snapshot(&bank, &user, window, ctx(1));
    for (b, a) in before.iter().zip(&after) {
        let (added, modified, removed) = diff(movements(b), movements(a));
        assert_eq!((added.len(), modified.len(), removed.len()), (2, 1, 1));
    }
}

trait InstitutionFacts {
    fn institution_currency(&self) -> String;
    fn institution_country(&self) -> String;
}

impl InstitutionFacts for SandboxBank {
    fn institution_currency(&self) -> String {
        crate::connectors::Connector::institution(self)
            .currency
            .to_string()
    }
    fn institution_country(&self) -> String {
        crate::connectors::Connector::institution(self)
            .country
            .to_string()
    }
}
