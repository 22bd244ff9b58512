//! Generating a holder's accounts and base movements.
//!
//! The bank's history is a pure function of absolute dates: the movements posted on day `D`
//! to an account are drawn from a seed of (institution, holder, `D`, account, index), whatever
//! day the fetch happens on. `today` only decides how far the history reaches, which deposited
//! checks are still pending, and the balances of the day.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use crate::connectors::sandbox::profile::{AccountSpec, MovementBody, Profile, SandboxUser};
use crate::connectors::sandbox::scenarios::History;
use crate::connectors::sandbox::seed::Rng;
use crate::connectors::{BankAccount, BankMovement, BankMovementStatus, DateWindow};

/// Movements per account per day in the `instant` scenario (over [`INSTANT_DAYS`] days).
pub(crate) const INSTANT_PER_DAY: u32 = 5;
/// Days of history in the `instant` scenario, today included.
pub(crate) const INSTANT_DAYS: u32 = 5;

/// An account together with the spec it was built from.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) spec: &'static AccountSpec,
    pub(crate) bank: BankAccount,
}

/// The holder's accounts at `today`, in the bank's order.
pub(crate) fn accounts(
    profile: &dyn Profile,
    user: &SandboxUser,
    history: History,
    today: NaiveDate,
) -> Vec<Account> {
    let institution = profile.institution();
    let holder = &user.holder_id;
    let holder_name = profile.holder_name(
        &mut Rng::new(&[&institution.id, holder, "holder_name"]),
        user.holder_type,
    );
    profile
        .accounts(user.holder_type)
        .iter()
        .enumerate()
        .filter(|(position, spec)| match history {
            History::Instant => *position < 2,
            _ => Rng::new(&[&institution.id, holder, spec.slot, "presence"]).chance(spec.presence),
        })
        .map(|(_, spec)| {
            // Identity and number depend on the holder only; balances move day by day.
            let mut identity = Rng::new(&[&institution.id, holder, spec.slot, "account"]);
            let bank_id = format!("{}-{}", spec.slot, identity.hex(6));
            let number = identity.digits(profile.account_number_len());
            let day = today.to_string();
            let mut balance = Rng::new(&[&institution.id, holder, spec.slot, "balance", &day]);
            let (available, current, limit) = balances(spec, &mut balance);
            Account {
                spec,
                bank: BankAccount {
                    bank_id,
                    name: spec.name.to_string(),
                    official_name: spec.official_name.to_string(),
                    number,
                    holder_id: holder.clone(),
                    holder_name: holder_name.clone(),
                    account_type: spec.kind.api_type().to_string(),
                    currency: institution.currency.to_string(),
                    balance_available: available,
                    balance_current: current,
                    balance_limit: limit,
                },
            }
        })
        .collect()
}

/// (available, current, limit). Balances are plausible for the account, not the running sum
/// of its movements: the sandbox does not keep a ledger.
fn balances(spec: &AccountSpec, rng: &mut Rng) -> (i64, i64, i64) {
    let (lo, hi) = spec.balance;
    match spec.kind {
        super::profile::AccountKind::Credit => {
            let line = rng.range(lo, hi) / 1000 * 1000;
            let used = rng.range(0, line / 2);
            (line - used, line - used, line)
        }
        _ => {
            let current = rng.range(lo, hi);
            // Deposited checks not yet cleared are counted but not usable.
            let held = if rng.chance(20) {
                rng.range(0, current / 10)
            } else {
                0
            };
            (current - held, current, current - held)
        }
    }
}

/// The first day the bank still shows for `history`.
pub(crate) fn history_start(history: History, today: NaiveDate) -> NaiveDate {
    let start = match history {
        History::Standard => today.checked_sub_months(Months::new(6)),
        History::Long => today.checked_sub_months(Months::new(24)),
        History::Instant => today.checked_sub_days(Days::new(u64::from(INSTANT_DAYS - 1))),
    };
    start.unwrap_or(NaiveDate::MIN)
}

/// The account's movements posted in `window`, newest first, before any `changes` journal.
pub(crate) fn base_movements(
    profile: &dyn Profile,
    user: &SandboxUser,
    account: &Account,
    history: History,
    window: DateWindow,
    today: NaiveDate,
) -> Vec<BankMovement> {
    let institution: &'static str = &profile.institution().id;
    let first = window.since.max(history_start(history, today));
    let mut day = window.until.min(today);
    let mut movements = Vec::new();
    while day >= first {
        let date = day.to_string();
        let count = match history {
            History::Instant => INSTANT_PER_DAY,
            _ => {
                let mut rng = Rng::new(&[
                    institution,
                    &user.holder_id,
                    &date,
                    account.spec.slot,
                    "count",
                ]);
                u32::try_from(rng.range(1, 3)).unwrap_or(1)
            }
        };
        for index in 0..count {
            let index = index.to_string();
            let rng = Rng::new(&[
                institution,
                &user.holder_id,
                &date,
                account.spec.slot,
                &index,
            ]);
            movements.push(generate(profile, user, account, rng, day, today));
        }
        match day.pred_opt() {
            Some(previous) => day = previous,
            None => break,
        }
    }
    movements
}

/// One movement from its seed: the id is drawn first, so later edits of the content (the
/// `changes` journal) never change it.
pub(crate) fn generate(
    profile: &dyn Profile,
    user: &SandboxUser,
    account: &Account,
    mut rng: Rng,
    post_date: NaiveDate,
    today: NaiveDate,
) -> BankMovement {
    let bank_id = rng.hex(10);
    let body = profile.movement(&mut rng, account.spec.kind, user.holder_type);
    finish(
        body,
        bank_id,
        &account.bank.currency,
        post_date,
        today,
        &mut rng,
    )
}

/// How often (in percent) a confirmed outgoing movement is reversed.
const REVERSED_PERCENT: u64 = 3;

/// Turns a country-specific body into a movement: status, dates and transfer sides.
pub(crate) fn finish(
    body: MovementBody,
    bank_id: String,
    currency: &str,
    post_date: NaiveDate,
    today: NaiveDate,
    rng: &mut Rng,
) -> BankMovement {
    // A deposited check clears two days after posting (Fintoc: "up to 48 business hours").
    let pending = body.clears
        && post_date
            .checked_add_days(Days::new(2))
            .is_some_and(|d| d > today);
    let (sender_account, recipient_account) = match body.counterparty {
        Some(other) if body.amount > 0 => (Some(other), None),
        Some(other) => (None, Some(other)),
        None => (None, None),
    };
    let transaction_date = transaction_date(rng, post_date);
    // Now and then a payment is undone by the bank: the movement stays, marked reversed.
    let reversed = !pending && body.amount < 0 && rng.chance(REVERSED_PERCENT);
    BankMovement {
        bank_id,
        amount: body.amount,
        currency: currency.to_string(),
        description: body.description,
        post_date,
        transaction_date,
        movement_type: body.movement_type,
        status: if pending {
            BankMovementStatus::Pending
        } else if reversed {
            BankMovementStatus::Reversed
        } else {
            BankMovementStatus::Confirmed
        },
        pending,
        reference_id: body.reference_id,
        comment: body.comment,
        sender_account,
        recipient_account,
    }
}

/// Some banks omit the time; otherwise the purchase or transfer happened the day before it
/// posted, and a Monday posting may come from the weekend. Never the posting day itself: a
/// movement posted today would then carry a time later today, in the future, and the time may
/// not depend on when the bank is asked (a refresh an hour later would see it "modified").
/// Times are 12:00-23:59 UTC, daytime in Chile and Mexico.
fn transaction_date(rng: &mut Rng, post_date: NaiveDate) -> Option<chrono::DateTime<chrono::Utc>> {
    if rng.chance(15) {
        return None;
    }
    let max_back = if post_date.weekday() == Weekday::Mon {
        3
    } else {
        1
    };
    let back = u64::try_from(rng.range(1, max_back)).unwrap_or(1);
    let day = post_date.checked_sub_days(Days::new(back))?;
    let [hour, minute, second] = [rng.range(12, 23), rng.range(0, 59), rng.range(0, 59)]
        .map(|n| u32::try_from(n).unwrap_or(0));
    Some(day.and_hms_opt(hour, minute, second)?.and_utc())
}
