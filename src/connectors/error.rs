//! What can go wrong when talking to a bank, and how each failure shows in the API.

/// A failure reported by a connector. The engine branches on it: [`Self::public_error`] gives
/// the refresh intent's `public_error`, [`Self::is_rejection`] its `rejected` status.
///
/// Messages are written for logs and operators; they never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The bank refused the username or password (or the holder type does not match them).
    #[error("the institution rejected the username or password")]
    InvalidCredentials,
    /// The bank locked the credentials (too many failed attempts, blocked by the bank).
    #[error(
        "the institution has locked these credentials; the holder must unlock them at the bank"
    )]
    CredentialsLocked,
    /// The bank is down or answered with something unusable; trying later may work.
    #[error("the institution is unavailable; try again later")]
    Unavailable,
    /// The bank needs a human on our side (unexpected page, account needing manual action).
    #[error("the institution answered in an unexpected way; support must look into it")]
    SupportRequired,
    /// The second-factor code was wrong. The challenge stays valid and may be answered again.
    #[error("the second-factor code is wrong{}", attempts_suffix(*attempts_left))]
    WrongMfaCode {
        /// Further attempts the bank allows, when it says so.
        attempts_left: Option<u32>,
    },
    /// The bank no longer accepts an answer to this challenge; the holder must log in again.
    #[error("the second-factor challenge expired")]
    MfaExpired,
    /// The bank session is unusable (expired, not yet through MFA, or from another bank);
    /// logging in again fixes it.
    #[error("the bank session is not usable: {reason}")]
    SessionExpired {
        /// What was wrong with the session.
        reason: String,
    },
    /// One account could not be read; the others are unaffected.
    #[error("account {bank_id} could not be refreshed: {reason}")]
    AccountFailed {
        /// The bank's id of the failed account ([`crate::connectors::BankAccount::bank_id`]).
        bank_id: String,
        /// Why, for logs.
        reason: String,
    },
    /// The bank wants a new password before it lets the holder in.
    #[error("the holder's password expired; they must change it at the bank")]
    PasswordExpired,
    /// The bank wants the holder to do something first (accept new terms, update their
    /// profile, enable a second factor, call the bank).
    #[error("the institution asks the holder to take an action at the bank first")]
    ActionNeeded,
    /// The bank limits how often it may be called, and that limit was reached.
    #[error("the institution is limiting requests; try again later")]
    RateLimited,
    /// A code this build does not know, with the class the connector gave it: handled as
    /// its class says.
    #[error("connector error {code} ({}): {message}", class.as_str())]
    Classified {
        /// The connector's code (for logs).
        code: String,
        /// Whose the failure is.
        class: ErrorClass,
        /// The connector's message (for logs).
        message: String,
    },
    /// Anything else a connector hit (a scraper's parse error, an HTTP error...).
    #[error("connector error: {0}")]
    Other(String),
}

/// Whose a failure is: it decides how a refresh ends and whether the link needs its person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The holder must act (new credentials, unlock, an action at the bank): the refresh is
    /// `rejected` and the link needs its person.
    Person,
    /// It may work later by itself: the refresh is `failed` with `retryable_error`.
    Transient,
    /// The connector or the bank's site misbehaved: `failed` with `support_required_error`,
    /// for an operator to look at.
    Connector,
}

impl ErrorClass {
    /// Every class, in the protocol's order.
    pub const ALL: [ErrorClass; 3] = [
        ErrorClass::Person,
        ErrorClass::Transient,
        ErrorClass::Connector,
    ];

    /// The wire name: `person`, `transient` or `connector`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Person => "person",
            ErrorClass::Transient => "transient",
            ErrorClass::Connector => "connector",
        }
    }

    /// The class of a wire name; `None` for a name this build does not know.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

fn attempts_suffix(attempts_left: Option<u32>) -> String {
    match attempts_left {
        Some(n) => format!(" ({n} attempts left)"),
        None => String::new(),
    }
}

impl ConnectorError {
    /// Whose the failure is. A wrong or late second factor is transient: the holder is there
    /// and a new refresh with the right code succeeds.
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::InvalidCredentials
            | ConnectorError::CredentialsLocked
            | ConnectorError::PasswordExpired
            | ConnectorError::ActionNeeded => ErrorClass::Person,
            ConnectorError::Unavailable
            | ConnectorError::RateLimited
            | ConnectorError::WrongMfaCode { .. }
            | ConnectorError::MfaExpired
            | ConnectorError::SessionExpired { .. }
            | ConnectorError::AccountFailed { .. } => ErrorClass::Transient,
            ConnectorError::SupportRequired | ConnectorError::Other(_) => ErrorClass::Connector,
            ConnectorError::Classified { class, .. } => *class,
        }
    }

    /// The Fintoc `public_error` of a refresh intent that ended with this error:
    /// `invalid_credentials_error`, `credentials_locked_error`, `retryable_error` or
    /// `support_required_error`. Fintoc has no word for an action at the bank: the holder must
    /// act there, as for locked credentials.
    pub fn public_error(&self) -> &'static str {
        match self {
            ConnectorError::CredentialsLocked | ConnectorError::ActionNeeded => {
                "credentials_locked_error"
            }
            _ => match self.class() {
                ErrorClass::Person => "invalid_credentials_error",
                ErrorClass::Transient => "retryable_error",
                ErrorClass::Connector => "support_required_error",
            },
        }
    }

    /// Whether the holder must act: the refresh is `rejected` (not `failed`) and the link
    /// needs its person.
    pub fn is_rejection(&self) -> bool {
        self.class() == ErrorClass::Person
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_errors_follow_fintoc() {
        assert_eq!(
            ConnectorError::InvalidCredentials.public_error(),
            "invalid_credentials_error"
        );
        assert_eq!(
            ConnectorError::CredentialsLocked.public_error(),
            "credentials_locked_error"
        );
        assert_eq!(
            ConnectorError::Unavailable.public_error(),
            "retryable_error"
        );
        assert_eq!(
            ConnectorError::SupportRequired.public_error(),
            "support_required_error"
        );
        let failed = ConnectorError::AccountFailed {
            bank_id: "a".into(),
            reason: "b".into(),
        };
        assert_eq!(failed.public_error(), "retryable_error");
        assert!(ConnectorError::CredentialsLocked.is_rejection());
        assert!(!failed.is_rejection());
    }

    #[test]
    fn messages_are_human() {
        let wrong = ConnectorError::WrongMfaCode {
            attempts_left: Some(2),
        };
        assert_eq!(
            wrong.to_string(),
            "the second-factor code is wrong (2 attempts left)"
        );
        let unknown = ConnectorError::WrongMfaCode {
            attempts_left: None,
        };
        assert_eq!(unknown.to_string(), "the second-factor code is wrong");
    }
}
