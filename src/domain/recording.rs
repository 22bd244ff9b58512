//! What a refresh brings back from the bank and what recording it leaves: the engine hands a
//! [`RefreshOutcome`] to the store, which records it and, inside the same transaction, calls an
//! [`EventMaker`] with the [`RecordedRefresh`] as committed.

use chrono::NaiveDate;

use super::*;

/// The movements the bank returned for one account.
#[derive(Debug)]
pub struct FetchedMovements {
    /// First day the bank answered for (removals are judged only from here on).
    pub since: NaiveDate,
    /// Last day asked for.
    pub until: NaiveDate,
    /// What the bank returned.
    pub movements: Vec<MovementData>,
}

/// One account as a refresh saw it.
#[derive(Debug)]
pub struct AccountFetch {
    /// The bank's data of the account.
    pub account: AccountData,
    /// Its movements, or why they could not be read.
    pub movements: Result<FetchedMovements, PublicError>,
}

/// How a refresh ended.
#[derive(Debug)]
pub struct RefreshOutcome {
    /// Final status.
    pub status: IntentStatus,
    /// Fintoc's reason when not succeeded.
    pub public_error: Option<PublicError>,
    /// Our reason, for people.
    pub failure_reason: Option<String>,
    /// The accounts the bank listed, or `None` when it was not reached (every known account
    /// then gets the intent's outcome).
    pub accounts: Option<Vec<AccountFetch>>,
    /// New credential status of the link, when the bank judged them.
    pub credential_status: Option<CredentialStatus>,
    /// When the refresh ended.
    pub finished_at: Timestamp,
    /// Earliest next refresh (for `next_refresh`), after a success.
    pub next_refresh: Option<Timestamp>,
}

impl RefreshOutcome {
    /// The end of a refresh whose link was deactivated or deleted before its outcome was
    /// recorded: `failed` with `link_inactive`, and nothing the bank answered is kept.
    pub fn link_inactive(finished_at: Timestamp) -> Self {
        Self {
            status: PublicError::Retryable.status(),
            public_error: Some(PublicError::Retryable),
            failure_reason: Some("link_inactive".to_owned()),
            accounts: None,
            credential_status: None,
            finished_at,
            next_refresh: None,
        }
    }

    /// A success decided without reaching the bank (test mode's forced result): every account
    /// the link has gets it, and the credentials are left as they are.
    pub fn succeeded_without_fetch(next_refresh: Option<Timestamp>) -> Self {
        Self {
            status: IntentStatus::Succeeded,
            public_error: None,
            failure_reason: None,
            accounts: None,
            credential_status: None,
            finished_at: Timestamp::now(),
            next_refresh,
        }
    }
}

/// What recording produced, per account (for logs and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordedCounts {
    /// Movements created.
    pub new: i64,
    /// Movements modified.
    pub modified: i64,
    /// Movements removed.
    pub removed: i64,
}

/// One account's part of a recorded refresh, as committed.
#[derive(Debug)]
pub struct RecordedAccount {
    /// The account-level result's id (`ri_…`).
    pub result_id: RefreshIntentId,
    /// The account after the refresh.
    pub account: Account,
    /// Its outcome.
    pub status: IntentStatus,
    /// Why it failed.
    pub public_error: Option<PublicError>,
    /// Movements created.
    pub new_movements: i64,
    /// Movements the bank changed (as stored now).
    pub modified: Vec<Movement>,
    /// Movements the bank removed.
    pub removed: Vec<Movement>,
}

/// A refresh as committed, from which its events are made (inside the same transaction).
#[derive(Debug)]
pub struct RecordedRefresh {
    /// The intent in its final state.
    pub intent: RefreshIntent,
    /// The link after the refresh.
    pub link: Link,
    /// One entry per account result.
    pub accounts: Vec<RecordedAccount>,
    /// The link's credentials stopped working with this refresh.
    pub credentials_changed: bool,
}

/// Makes the events of a recorded refresh. The store calls it inside the recording
/// transaction, so the events commit (or roll back) with the change.
pub type EventMaker = Box<dyn Fn(&RecordedRefresh) -> anyhow::Result<Vec<NewEvent>> + Send + Sync>;
