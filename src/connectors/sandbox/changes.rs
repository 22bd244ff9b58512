//! The `+changes` scenario: a bank whose data evolves from one refresh to the next.
//!
//! On top of the base history, each account carries a journal indexed by refresh number `r`:
//! - refresh `k >= 1` adds [`NEW_PER_REFRESH`] movements dated `today` with fresh ids;
//! - movement "modified `k`" (`k` in `1..=CHANGE_ROUNDS`) exists from the start and changes at
//!   refresh `k`: a deposited check is confirmed (`k % 3 == 1`), a truncated provisional
//!   description becomes the full one (`k % 3 == 2`), or the amount is corrected (`k % 3 == 0`);
//! - movement "removed `k`" exists until refresh `k`, when it disappears.
//!
//! So between refresh `r - 1` and `r` (same day, `1 <= r <= CHANGE_ROUNDS`, a window covering
//! the last [`CHANGE_DAYS`] days) each account shows exactly 2 new, 1 modified and 1 removed
//! movement; after round 10 only new ones. The journal dates are relative to `today` (the
//! sandbox has no memory of when refresh `k` happened), so they are meant for refreshes on the
//! same day, as in a test run.

use chrono::{Days, NaiveDate};

use crate::connectors::sandbox::data::{self, Account};
use crate::connectors::sandbox::profile::{Profile, SandboxUser};
use crate::connectors::sandbox::seed::Rng;
use crate::connectors::{BankMovement, BankMovementStatus, DateWindow, FetchContext};

/// Movements each refresh adds per account.
pub const NEW_PER_REFRESH: u32 = 2;
/// Refreshes that modify and remove a movement (one each per account).
pub const CHANGE_ROUNDS: u32 = 10;
/// The journal's modified and removed movements are dated within the last this many days
/// (today included), so a window of that length sees every change.
pub const CHANGE_DAYS: u32 = 6;
/// Refreshes after this many stop adding movements, so a huge `refresh_number` stays cheap.
pub const MAX_ADDING_REFRESHES: u32 = 1000;

/// Adds the journal's state at `ctx.refresh_number` to the account's base movements.
pub(crate) fn apply(
    profile: &dyn Profile,
    user: &SandboxUser,
    account: &Account,
    window: DateWindow,
    ctx: &FetchContext,
    movements: &mut Vec<BankMovement>,
) {
    let today = ctx.today;
    let refresh = ctx.refresh_number;
    let keyed = |label: &str, k: u32, j: u32| {
        let institution: &'static str = &profile.institution().id;
        let (k, j) = (k.to_string(), j.to_string());
        Rng::new(&[
            institution,
            &user.holder_id,
            account.spec.slot,
            label,
            &k,
            &j,
        ])
    };

    if window.contains(today) {
        for k in 1..=refresh.min(MAX_ADDING_REFRESHES) {
            for j in 0..NEW_PER_REFRESH {
                let rng = keyed("new", k, j);
                movements.push(data::generate(profile, user, account, rng, today, today));
            }
        }
    }

    for k in 1..=CHANGE_ROUNDS {
        let Some(date) = journal_date(today, k).filter(|d| window.contains(*d)) else {
            continue;
        };
        movements.push(modified(
            profile,
            user,
            account,
            keyed("modified", k, 0),
            date,
            ctx,
            k,
        ));
        if refresh < k {
            let rng = keyed("removed", k, 0);
            movements.push(data::generate(profile, user, account, rng, date, today));
        }
    }

    // Newest first like the base list; the sort is stable, so same-day order stays put.
    movements.sort_by_key(|m| std::cmp::Reverse(m.post_date));
}

/// Journal movement `k` sits 1 to `CHANGE_DAYS - 1` days before today.
fn journal_date(today: NaiveDate, k: u32) -> Option<NaiveDate> {
    today.checked_sub_days(Days::new(u64::from(1 + (k - 1) % (CHANGE_DAYS - 1))))
}

/// "Modified `k`" as the bank shows it at `ctx.refresh_number`.
fn modified(
    profile: &dyn Profile,
    user: &SandboxUser,
    account: &Account,
    mut rng: Rng,
    date: NaiveDate,
    ctx: &FetchContext,
    k: u32,
) -> BankMovement {
    let changed = ctx.refresh_number >= k;
    match k % 3 {
        1 => {
            let bank_id = rng.hex(10);
            let body = profile.check_deposit(&mut rng);
            let currency = &account.bank.currency;
            let mut movement = data::finish(body, bank_id, currency, date, ctx.today, &mut rng);
            // Pending until its refresh, whatever its date says.
            movement.pending = !changed;
            movement.status = if changed {
                BankMovementStatus::Confirmed
            } else {
                BankMovementStatus::Pending
            };
            movement
        }
        2 => {
            let mut movement = data::generate(profile, user, account, rng, date, ctx.today);
            if !changed {
                // Provisional statements show a truncated, upper-case description.
                let short: String = movement.description.chars().take(18).collect();
                movement.description = short.to_uppercase();
            }
            movement
        }
        _ => {
            let mut movement = data::generate(profile, user, account, rng, date, ctx.today);
            if changed {
                // The settled amount differs from the authorized one (tips, fees, rates).
                let delta = (movement.amount.abs() / 10).max(1);
                movement.amount += movement.amount.signum() * delta;
            }
            movement
        }
    }
}
