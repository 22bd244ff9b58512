//! The objects Refresco keeps, in domain form (no serde: wire types live in `api`, row types
//! in `store`).

use std::fmt;

use chrono::NaiveDate;

use super::ids::*;
use super::time::Timestamp;

/// Every object lives in exactly one mode, decided by the API key that touches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `sk_test_` / `pk_test_` keys, sandbox banks only.
    Test,
    /// `sk_live_` / `pk_live_` keys.
    Live,
}

impl Mode {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    /// Parses the wire and storage name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "test" => Some(Mode::Test),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

/// Secret keys are for servers; public keys only for the widget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `sk_…`
    Secret,
    /// `pk_…`
    Public,
}

impl KeyKind {
    /// The key prefix (`sk` or `pk`).
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Secret => "sk",
            KeyKind::Public => "pk",
        }
    }

    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Public => "public",
        }
    }
}

/// Who an authenticated API key acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The key's organization.
    pub organization_id: OrganizationId,
    /// The key's mode.
    pub mode: Mode,
    /// Secret or public.
    pub kind: KeyKind,
}

/// An individual or a company.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HolderType {
    /// A person.
    Individual,
    /// A company.
    Business,
}

impl HolderType {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            HolderType::Individual => "individual",
            HolderType::Business => "business",
        }
    }

    /// Parses the wire and storage name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "individual" => Some(HolderType::Individual),
            "business" => Some(HolderType::Business),
            _ => None,
        }
    }
}

/// Whether a link's credentials still work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialStatus {
    /// The bank accepted them last time.
    Active,
    /// The bank rejected them: the holder must reconnect.
    LoginRequired,
}

impl CredentialStatus {
    /// Storage name (also the wire `status` of an active link).
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::LoginRequired => "login_required",
        }
    }

    /// Parses the storage name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(CredentialStatus::Active),
            "login_required" => Some(CredentialStatus::LoginRequired),
            _ => None,
        }
    }
}

/// Refresh state of a link or an account (`refresh_status`); see `docs/api.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshStatus {
    /// A refresh is running.
    Refreshing,
    /// The last refresh succeeded.
    Refreshed,
    /// The last refresh failed for a reason that may pass (bank down, timeout).
    Failed,
    /// Refreshing stopped until the holder acts (credentials rejected or locked).
    Interrupted,
}

impl RefreshStatus {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshStatus::Refreshing => "refreshing",
            RefreshStatus::Refreshed => "refreshed",
            RefreshStatus::Failed => "failed",
            RefreshStatus::Interrupted => "interrupted",
        }
    }

    /// Parses the storage name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            RefreshStatus::Refreshing,
            RefreshStatus::Refreshed,
            RefreshStatus::Failed,
            RefreshStatus::Interrupted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// An ISO 4217 currency code (`CLP`, `MXN`, `USD`): three ASCII letters, upper case, kept
/// inline. A type rather than a `String` because a refresh holds every movement it fetched in
/// memory until it is recorded (S3 in BENCHMARKS.md): 3 bytes instead of a 24-byte `String`
/// and its heap allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Three ASCII letters, in either case.
    pub fn parse(text: &str) -> Option<Self> {
        let letters: [u8; 3] = text.as_bytes().try_into().ok()?;
        letters
            .iter()
            .all(u8::is_ascii_alphabetic)
            .then(|| Self(letters.map(|b| b.to_ascii_uppercase())))
    }

    /// The code, e.g. `CLP`.
    pub fn as_str(&self) -> &str {
        // `parse` admits only ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A movement's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovementType {
    /// A transfer to or from another account.
    Transfer,
    /// A check.
    Check,
    /// Anything else (card payments, fees, interest, …).
    Other,
}

impl MovementType {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementType::Transfer => "transfer",
            MovementType::Check => "check",
            MovementType::Other => "other",
        }
    }

    /// Parses the storage name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            MovementType::Transfer,
            MovementType::Check,
            MovementType::Other,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}

/// A movement's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovementStatus {
    /// Booked.
    Confirmed,
    /// Not yet booked (a deposited check that has not cleared).
    Pending,
    /// Undone by the bank.
    Reversed,
    /// Shown twice by the bank.
    Duplicated,
}

impl MovementStatus {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementStatus::Confirmed => "confirmed",
            MovementStatus::Pending => "pending",
            MovementStatus::Reversed => "reversed",
            MovementStatus::Duplicated => "duplicated",
        }
    }

    /// Parses the storage name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            MovementStatus::Confirmed,
            MovementStatus::Pending,
            MovementStatus::Reversed,
            MovementStatus::Duplicated,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The bank a link connects to, as shown on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionRef {
    /// e.g. `cl_banco_sandbox`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// ISO country, lowercase (`cl`, `mx`).
    pub country: String,
}

/// A stored connection to a holder's bank.
#[derive(Clone, Debug)]
pub struct Link {
    /// `link_…`
    pub id: LinkId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode it lives in.
    pub mode: Mode,
    /// The bank.
    pub institution: InstitutionRef,
    /// Individual or business.
    pub holder_type: HolderType,
    /// Tax id without dots or hyphens.
    pub holder_id: String,
    /// Bank login.
    pub username: String,
    /// Whether the client wants it refreshed (`PATCH active`).
    pub active: bool,
    /// Whether the credentials still work.
    pub credential_status: CredentialStatus,
    /// Refresh state.
    pub refresh_status: RefreshStatus,
    /// Last successful refresh.
    pub last_time_refreshed: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// The second factor the bank asks for at login (learned when the link was created).
    pub login_mfa: Option<super::refresh::MfaMethod>,
}

impl Link {
    /// The wire `status`: `inactive` while deactivated, else the credential status.
    pub fn status(&self) -> &'static str {
        if self.active {
            self.credential_status.as_str()
        } else {
            "inactive"
        }
    }
}

/// An account's balances, integers in the currency's smallest unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// Available to spend.
    pub available: i64,
    /// Accounting balance.
    pub current: i64,
    /// Credit limit.
    pub limit: i64,
}

/// What the bank says about an account (everything but our own bookkeeping).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountData {
    /// The bank's stable identity of the account.
    pub bank_id: String,
    /// Standardized name.
    pub name: String,
    /// The bank's commercial name.
    pub official_name: String,
    /// Account number, no hyphens.
    pub number: String,
    /// Holder tax id.
    pub holder_id: String,
    /// Holder name.
    pub holder_name: String,
    /// `checking_account`, `line_of_credit`, …
    pub account_type: String,
    /// ISO 4217.
    pub currency: String,
    /// Balances.
    pub balance: Balance,
}

/// A stored account of a link.
#[derive(Clone, Debug)]
pub struct Account {
    /// `acc_…`
    pub id: AccountId,
    /// Its link.
    pub link_id: LinkId,
    /// Bank data.
    pub data: AccountData,
    /// Last successful refresh of this account.
    pub refreshed_at: Option<Timestamp>,
    /// Refresh state.
    pub refresh_status: RefreshStatus,
    /// Earliest time a new `only_last` refresh is allowed (see `docs/api.md`).
    pub next_refresh: Option<Timestamp>,
    /// The bank no longer lists this account.
    pub removed_from_link: bool,
}

/// The other side of a transfer, as much as the bank tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransferAccount {
    /// Tax id.
    pub holder_id: Option<String>,
    /// Name.
    pub holder_name: Option<String>,
    /// Account number.
    pub number: Option<String>,
    /// Bank, when known.
    pub institution: Option<InstitutionRef>,
}

/// What the bank says about a movement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovementData {
    /// The bank's stable identity of the movement (same movement, same id, even when edited).
    pub bank_id: String,
    /// Signed amount in the smallest unit: positive in, negative out.
    pub amount: i64,
    /// ISO 4217.
    pub currency: Currency,
    /// Bank description.
    pub description: String,
    /// Accounting date.
    pub post_date: NaiveDate,
    /// Real time of the transaction, when known.
    pub transaction_date: Option<Timestamp>,
    /// `transfer`, `check` or `other`. This and `status` are enums rather than text: a
    /// refresh holds every fetched movement in memory until it is recorded.
    pub movement_type: MovementType,
    /// `confirmed`, `pending`, `reversed` or `duplicated`.
    pub status: MovementStatus,
    /// True for checks not yet confirmed.
    pub pending: bool,
    /// Bank reference.
    pub reference_id: Option<String>,
    /// Transfer comment.
    pub comment: Option<String>,
    /// Sender of an incoming transfer. Boxed, like `recipient_account`: a movement has at most
    /// one of the two and many have neither, and a refresh holds every fetched movement in
    /// memory until it is recorded (inline, the pair would be more than half of this struct).
    pub sender_account: Option<Box<TransferAccount>>,
    /// Recipient of an outgoing transfer.
    pub recipient_account: Option<Box<TransferAccount>>,
}

/// A stored movement.
#[derive(Clone, Debug)]
pub struct Movement {
    /// `mov_…`
    pub id: MovementId,
    /// Its account.
    pub account_id: AccountId,
    /// Bank data.
    pub data: MovementData,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movement_kinds_and_statuses_round_trip_their_names() {
        for t in [
            MovementType::Transfer,
            MovementType::Check,
            MovementType::Other,
        ] {
            assert_eq!(MovementType::parse(t.as_str()), Some(t));
        }
        for s in [
            MovementStatus::Confirmed,
            MovementStatus::Pending,
            MovementStatus::Reversed,
            MovementStatus::Duplicated,
        ] {
            assert_eq!(MovementStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MovementType::parse("Transfer"), None);
        assert_eq!(MovementStatus::parse(""), None);
    }

    #[test]
    fn currencies_are_three_letters_kept_upper_case() {
        assert_eq!(
            Currency::parse("clp").map(|c| c.to_string()),
            Some("CLP".into())
        );
        assert_eq!(Currency::parse("MXN").unwrap().as_str(), "MXN");
        for bad in ["", "CL", "CLPX", "C1P", "pésos", "ÑAN"] {
            assert!(Currency::parse(bad).is_none(), "{bad:?}");
        }
    }

    /// A refresh holds every fetched movement in memory until it is recorded, and S3 has
    /// 10,000 refreshes of 50 movements each coming back together (BENCHMARKS.md): the
    /// counterparties are boxed, the closed sets are enums and the currency is a code so
    /// that a movement stays at 152 bytes plus its text (it was 488 with both counterparties
    /// inline and strings for type, status and currency).
    #[test]
    fn a_movement_stays_small() {
        let size = std::mem::size_of::<MovementData>();
        assert!(size <= 152, "MovementData is {size} bytes");
    }
}
