//! What differs between sandbox countries: who may log in, which accounts exist, and how
//! movements read. The shared machinery (seeds, dates, scenarios) lives in `data` and `mod`.

use crate::connectors::sandbox::seed::Rng;
use crate::connectors::{
    BankMovementType, ConnectorError, HolderType, Institution, MfaKind, TransferAccount,
};

/// The kind of an account, deciding its API `type` and which movements it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountKind {
    Checking,
    Sight,
    Savings,
    Credit,
}

impl AccountKind {
    /// The account's API `type`.
    pub(crate) fn api_type(self) -> &'static str {
        match self {
            AccountKind::Checking => "checking_account",
            AccountKind::Sight => "sight_account",
            AccountKind::Savings => "savings_account",
            AccountKind::Credit => "line_of_credit",
        }
    }
}

/// One account a sandbox holder may have.
#[derive(Debug)]
pub(crate) struct AccountSpec {
    /// Stable key of the account within the holder (seeds its id, number and movements).
    pub(crate) slot: &'static str,
    pub(crate) kind: AccountKind,
    pub(crate) name: &'static str,
    pub(crate) official_name: &'static str,
    /// Chance in percent that a holder has it. The first two specs of every list are always
    /// present (100): the `instant` and `fail_account` scenarios count on two accounts.
    pub(crate) presence: u64,
    /// Range of the balance (of the approved line, for credit) in the smallest unit.
    pub(crate) balance: (i64, i64),
}

/// A holder the sandbox accepted, by normalized tax id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SandboxUser {
    /// RUT or RFC without dots or hyphen: the API's `holder_id` and part of every seed.
    pub(crate) holder_id: String,
    pub(crate) holder_type: HolderType,
}

/// The country-specific part of a movement; `data` adds ids, dates and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MovementBody {
    /// Signed: positive comes in.
    pub(crate) amount: i64,
    pub(crate) description: String,
    pub(crate) movement_type: BankMovementType,
    pub(crate) reference_id: Option<String>,
    pub(crate) comment: Option<String>,
    /// The other side of a transfer; `data` files it as sender or recipient by the sign.
    pub(crate) counterparty: Option<TransferAccount>,
    /// A deposited check: pending until it clears, two days after it posts.
    pub(crate) clears: bool,
}

impl MovementBody {
    /// A movement of type `other`.
    pub(crate) fn other(amount: i64, description: impl Into<String>) -> Self {
        MovementBody {
            amount,
            description: description.into(),
            movement_type: BankMovementType::Other,
            reference_id: None,
            comment: None,
            counterparty: None,
            clears: false,
        }
    }

    /// A check movement; `reference_id` is the document number.
    pub(crate) fn check(amount: i64, description: String, document: String) -> Self {
        MovementBody {
            movement_type: BankMovementType::Check,
            reference_id: Some(document),
            clears: amount > 0,
            ..Self::other(amount, description)
        }
    }

    /// A transfer to or from `counterparty`.
    pub(crate) fn transfer(
        amount: i64,
        description: String,
        counterparty: TransferAccount,
        reference_id: String,
        comment: Option<String>,
    ) -> Self {
        MovementBody {
            movement_type: BankMovementType::Transfer,
            reference_id: Some(reference_id),
            comment,
            counterparty: Some(counterparty),
            ..Self::other(amount, description)
        }
    }
}

/// A sandbox country. Implementations are data-only unit structs; all randomness comes from
/// the [`Rng`] they are handed, so they stay deterministic.
pub(crate) trait Profile: Send + Sync + 'static {
    fn institution(&self) -> &'static Institution;

    /// Checks the username (a RUT or RFC) and that it matches `holder_type`.
    fn user(&self, username: &str, holder_type: HolderType) -> Result<SandboxUser, ConnectorError>;

    /// The second factor every login needs, if the bank always asks for one.
    fn default_mfa(&self) -> Option<MfaKind>;

    /// Country code and area shown before the masked phone number in SMS hints.
    fn phone_prefix(&self) -> &'static str;

    /// Number of digits of the holder's account numbers.
    fn account_number_len(&self) -> usize;

    /// The accounts a holder of this type may have; the first two are always present.
    fn accounts(&self, holder_type: HolderType) -> &'static [AccountSpec];

    fn holder_name(&self, rng: &mut Rng, holder_type: HolderType) -> String;

    /// An ordinary movement of an account of `kind`.
    fn movement(&self, rng: &mut Rng, kind: AccountKind, holder_type: HolderType) -> MovementBody;

    /// A deposited check (the `changes` scenario confirms one on a refresh).
    fn check_deposit(&self, rng: &mut Rng) -> MovementBody;
}

/// An amount in `lo..=hi` rounded down to a multiple of `step` (people transfer round sums).
pub(crate) fn money(rng: &mut Rng, lo: i64, hi: i64, step: i64) -> i64 {
    let value = rng.range(lo, hi);
    (value - value % step).max(step)
}

/// `Name Surname Surname` (father's and mother's, two different ones), as Chilean and Mexican
/// banks print names. `last` must hold at least two surnames.
pub(crate) fn person_name(rng: &mut Rng, first: &[&str], last: &[&str]) -> String {
    let len = i64::try_from(last.len()).unwrap_or(i64::MAX);
    let father = rng.range(0, len - 1);
    let mother = (father + rng.range(1, len - 1)) % len;
    let surname = |i: i64| last[usize::try_from(i).unwrap_or(0)];
    format!(
        "{} {} {}",
        rng.pick(first),
        surname(father),
        surname(mother)
    )
}
