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
    /// Anything else a connector hit (a scraper's parse error, an HTTP error...).
    #[error("connector error: {0}")]
    Other(String),
}

fn attempts_suffix(attempts_left: Option<u32>) -> String {
    match attempts_left {
        Some(n) => format!(" ({n} attempts left)"),
        None => String::new(),
    }
}

impl ConnectorError {
    /// The Fintoc `public_error` of a refresh intent that ended with this error:
    /// `invalid_credentials_error`, `credentials_locked_error`, `retryable_error` or
    /// `support_required_error`.
    pub fn public_error(&self) -> &'static str {
        match self {
            ConnectorError::InvalidCredentials => "invalid_credentials_error",
            ConnectorError::CredentialsLocked => "credentials_locked_error",
            ConnectorError::SupportRequired => "support_required_error",
            // A wrong or late second factor is not a credentials problem: a new refresh with
            // the right code succeeds, so the holder may simply retry.
            ConnectorError::Unavailable
            | ConnectorError::WrongMfaCode { .. }
            | ConnectorError::MfaExpired
            | ConnectorError::SessionExpired { .. }
            | ConnectorError::AccountFailed { .. }
            | ConnectorError::Other(_) => "retryable_error",
        }
    }

    /// Whether the bank refused the credentials themselves: the refresh is `rejected` (not
    /// `failed`) and the link needs the holder to reconnect.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            ConnectorError::InvalidCredentials | ConnectorError::CredentialsLocked
        )
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
