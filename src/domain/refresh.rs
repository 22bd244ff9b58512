//! Refresh intents: types, the state machine's final outcomes, and the rules on create
//! (cooldowns). Pure code.

use super::ids::*;
use super::time::Timestamp;

/// How far back a refresh goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshType {
    /// The most recent movements.
    OnlyLast,
    /// The institution's whole history.
    Historical,
}

impl RefreshType {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshType::OnlyLast => "only_last",
            RefreshType::Historical => "historical",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "only_last" => Some(RefreshType::OnlyLast),
            "historical" => Some(RefreshType::Historical),
            _ => None,
        }
    }

    /// Days of movements the bank is asked for.
    pub fn window_days(self) -> u32 {
        match self {
            RefreshType::OnlyLast => 14,
            RefreshType::Historical => 24 * 31,
        }
    }
}

/// The wire status of an intent. `created` until it ends in one of the three final states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentStatus {
    /// In progress (queued, at the bank, or waiting for MFA).
    Created,
    /// Every account refreshed.
    Succeeded,
    /// Something failed; retrying may work.
    Failed,
    /// The bank rejected the credentials.
    Rejected,
}

impl IntentStatus {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Created => "created",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Failed => "failed",
            IntentStatus::Rejected => "rejected",
        }
    }

    /// Parses the storage name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            IntentStatus::Created,
            IntentStatus::Succeeded,
            IntentStatus::Failed,
            IntentStatus::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the intent has ended.
    pub fn is_final(self) -> bool {
        self != IntentStatus::Created
    }
}

/// Fintoc's `public_error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicError {
    /// Retrying later may work.
    Retryable,
    /// Someone must look into it.
    SupportRequired,
    /// The holder must reconnect.
    InvalidCredentials,
    /// The bank locked the credentials.
    CredentialsLocked,
}

impl PublicError {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicError::Retryable => "retryable_error",
            PublicError::SupportRequired => "support_required_error",
            PublicError::InvalidCredentials => "invalid_credentials_error",
            PublicError::CredentialsLocked => "credentials_locked_error",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            PublicError::Retryable,
            PublicError::SupportRequired,
            PublicError::InvalidCredentials,
            PublicError::CredentialsLocked,
        ]
        .into_iter()
        .find(|e| e.as_str() == text)
    }

    /// The intent status an error ends in: credential problems (invalid or locked, both need
    /// the holder to act) reject, the rest fail.
    pub fn status(self) -> IntentStatus {
        match self {
            PublicError::InvalidCredentials | PublicError::CredentialsLocked => {
                IntentStatus::Rejected
            }
            _ => IntentStatus::Failed,
        }
    }
}

/// The second factor a bank asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaMethod {
    /// A code sent by SMS.
    Sms,
    /// A code from a token device or app.
    Device,
    /// Approval in the bank's app (no code).
    App,
}

impl MfaMethod {
    /// Storage and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::Sms => "sms",
            MfaMethod::Device => "device",
            MfaMethod::App => "app",
        }
    }

    /// Parses the storage name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sms" => Some(MfaMethod::Sms),
            "device" => Some(MfaMethod::Device),
            "app" => Some(MfaMethod::App),
            _ => None,
        }
    }
}

/// A refresh intent as stored.
#[derive(Clone, Debug)]
pub struct RefreshIntent {
    /// `ri_…`
    pub id: RefreshIntentId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode.
    pub mode: super::Mode,
    /// The refreshed link.
    pub link_id: LinkId,
    /// only_last or historical.
    pub refresh_type: RefreshType,
    /// Wire status.
    pub status: IntentStatus,
    /// Movements this refresh created, across accounts.
    pub new_movements: i64,
    /// Why it failed, in Fintoc's terms.
    pub public_error: Option<PublicError>,
    /// Why it failed, for people (our addition).
    pub failure_reason: Option<String>,
    /// The link's bank asks for a second factor and it has not been given yet.
    pub mfa_pending: Option<MfaMethod>,
    /// When the MFA challenge expires.
    pub mfa_expires_at: Option<Timestamp>,
    /// Test-mode forced outcome.
    pub forced_result: Option<IntentStatus>,
    /// Creation time.
    pub created_at: Timestamp,
    /// When a worker first took it.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// The widget token, sealed under the master key (bound to the intent id).
    pub widget_token_sealed: Option<Vec<u8>>,
}

/// How long after a successful refresh a new one may start (configurable; Fintoc's defaults
/// are 5 minutes after `only_last` and 60 after `historical`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cooldowns {
    /// After a successful `only_last`.
    pub only_last_millis: i64,
    /// After a successful `historical`.
    pub historical_millis: i64,
}

impl Cooldowns {
    /// When a link whose last success was of `kind` at `at` may be refreshed again.
    pub fn next_allowed(self, kind: RefreshType, at: Timestamp) -> Timestamp {
        at.plus_millis(self.of(kind))
    }

    /// No cooldown at all (what a forced test outcome is held to).
    pub const NONE: Cooldowns = Cooldowns {
        only_last_millis: 0,
        historical_millis: 0,
    };

    /// Whether a last success of `kind` at `at` refuses a create at `now`, and until when.
    /// A cooldown of zero refuses nothing, even a success stamped after `now`: another
    /// process, or this one while the create waited, may finish a refresh a moment after the
    /// create read the clock.
    pub fn refuses(self, kind: RefreshType, at: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let allowed = self.next_allowed(kind, at);
        (self.of(kind) > 0 && now < allowed).then_some(allowed)
    }

    /// The same rule seen from a create at `now`: a last success of `kind` refuses it exactly
    /// when it finished after the returned time (`refuses(kind, at, now)` is `Some` if and
    /// only if `at > blocks_after(kind, now)`). The store checks this form inside the create's
    /// insert, where the time of the last success is not known in advance.
    pub fn blocks_after(self, kind: RefreshType, now: Timestamp) -> Timestamp {
        match self.of(kind) {
            0 => Timestamp::from_millis(i64::MAX),
            millis => now.plus_millis(millis.saturating_neg()),
        }
    }

    fn of(self, kind: RefreshType) -> i64 {
        match kind {
            RefreshType::OnlyLast => self.only_last_millis,
            RefreshType::Historical => self.historical_millis,
        }
    }
}

/// Why an intent was not created, in the order the rules are checked. The create itself
/// decides it (see `store::refresh`); the API gives each its answer.
#[derive(Debug, thiserror::Error)]
pub enum CreateIntentError {
    /// The token opens no live link of the principal's organization and mode.
    #[error("the link token opens no link")]
    UnknownLink,
    /// The link is inactive.
    #[error("the link is inactive")]
    Inactive,
    /// The bank refused the link's credentials; the holder must reconnect.
    #[error("the link's credentials must be entered again")]
    LoginRequired,
    /// Another intent of the link is in progress.
    #[error("a refresh intent is already in progress for {0}")]
    InProgress(LinkId),
    /// The link was refreshed successfully too recently.
    #[error("the link was refreshed recently; next refresh allowed at {}", .next_refresh_at.to_wire())]
    Cooldown {
        /// When a refresh is allowed again.
        next_refresh_at: Timestamp,
        /// Whole seconds from the create until then (at least 1).
        retry_after_seconds: i64,
    },
    /// The create's `Idempotency-Key` is already stored (by an earlier or concurrent request);
    /// the create wrote nothing.
    #[error("the idempotency key is already in use")]
    IdempotencyKeyTaken,
    /// The database failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CreateIntentError {
    /// The refusal of a create at `now` of a link cooling down until `allowed`.
    pub fn cooldown(allowed: Timestamp, now: Timestamp) -> Self {
        CreateIntentError::Cooldown {
            next_refresh_at: allowed,
            retry_after_seconds: ((allowed.millis() - now.millis()) + 999).max(1000) / 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_is_refuses_seen_from_the_create() {
        let configured = Cooldowns {
            only_last_millis: 300_000,
            historical_millis: 3_600_000,
        };
        let none = Cooldowns {
            only_last_millis: 0,
            historical_millis: 0,
        };
        for c in [configured, none] {
            for kind in [RefreshType::OnlyLast, RefreshType::Historical] {
                for at in [0, 1_000, 299_999, 300_000, 3_599_999, 3_600_000, 3_600_001] {
                    for now in [0, 1_000, 300_000, 301_000, 3_600_000, 3_601_000, 3_601_001] {
                        let (at, now) = (Timestamp::from_millis(at), Timestamp::from_millis(now));
                        assert_eq!(
                            c.refuses(kind, at, now).is_some(),
                            at > c.blocks_after(kind, now),
                            "{c:?} {kind:?} success at {at:?}, create at {now:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn no_cooldown_refuses_nothing_even_a_later_success() {
        let none = Cooldowns {
            only_last_millis: 0,
            historical_millis: 0,
        };
        let (now, later) = (Timestamp::from_millis(1_000), Timestamp::from_millis(1_005));
        assert_eq!(none.refuses(RefreshType::OnlyLast, later, now), None);
        let five_minutes = Cooldowns {
            only_last_millis: 300_000,
            ..none
        };
        assert_eq!(
            five_minutes.refuses(RefreshType::OnlyLast, later, now),
            Some(Timestamp::from_millis(301_005))
        );
    }

    #[test]
    fn cooldown_depends_on_the_last_success_kind() {
        let c = Cooldowns {
            only_last_millis: 300_000,
            historical_millis: 3_600_000,
        };
        let t = Timestamp::from_millis(1_000);
        assert_eq!(c.next_allowed(RefreshType::OnlyLast, t).millis(), 301_000);
        assert_eq!(
            c.next_allowed(RefreshType::Historical, t).millis(),
            3_601_000
        );
    }

    #[test]
    fn credential_errors_reject_and_others_fail() {
        assert_eq!(
            PublicError::InvalidCredentials.status(),
            IntentStatus::Rejected
        );
        assert_eq!(
            PublicError::CredentialsLocked.status(),
            IntentStatus::Rejected
        );
        assert_eq!(PublicError::Retryable.status(), IntentStatus::Failed);
        for e in [
            "retryable_error",
            "support_required_error",
            "invalid_credentials_error",
            "credentials_locked_error",
        ] {
            assert_eq!(PublicError::parse(e).unwrap().as_str(), e);
        }
    }
}
