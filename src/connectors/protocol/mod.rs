//! Connector protocol v1: a bank connector as an HTTP service that speaks JSON.
//!
//! The engine keeps everything else (jobs, leases, MFA parking, diffs, events, webhooks); a
//! connector only logs in, answers second factors, lists accounts and pages through movements.
//! `docs/connectors.md` is the reference, and `docs/connector-protocol.schema.json` describes
//! every message. The objects inside the messages are the types of [`crate::connectors`]
//! exactly as serde writes them ([`BankAccount`], [`BankMovement`], [`MfaChallenge`], …).
//!
//! - [`client`]: a [`crate::connectors::Connector`] that calls a connector service;
//! - [`server`]: any set of connectors served over the protocol (the sandbox banks through
//!   `refresco connector serve-sandbox`);
//! - [`load`]: reading the configured connectors' manifests at start and in the background;
//! - [`check`]: the conformance run of `refresco connector check`.

pub mod check;
pub mod client;
pub mod load;
pub mod openapi;
pub mod server;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::connectors::{
    BankAccount, BankMovement, BankSession, ConnectorError, Credentials, DateWindow, ErrorClass,
    FetchContext, Institution, MfaAnswer, MfaChallenge,
};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// The header every request carries with [`VERSION`].
pub const VERSION_HEADER: &str = "Refresco-Connector-Protocol";

/// `GET /manifest`: the banks a connector serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Manifest {
    /// The protocol version the connector speaks; must be [`VERSION`].
    pub protocol: u32,
    /// The institutions it serves.
    pub institutions: Vec<Institution>,
}

/// `POST /login`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Which of the connector's institutions.
    pub institution_id: String,
    /// What the holder typed.
    pub credentials: Credentials,
}

/// The answer to `POST /login`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoginResponse {
    /// Logged in.
    LoggedIn {
        /// What later calls hand back.
        session: BankSession,
    },
    /// The bank asks for a second factor.
    MfaRequired {
        /// What the holder must answer, handed back to `POST /mfa`.
        challenge: MfaChallenge,
    },
}

/// `POST /mfa`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaRequest {
    /// Which of the connector's institutions.
    pub institution_id: String,
    /// The challenge `POST /login` returned.
    pub challenge: MfaChallenge,
    /// `{"code": "123456"}` or `"approved"`.
    pub answer: MfaAnswer,
}

/// The answer to `POST /mfa`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaResponse {
    /// The logged-in session.
    pub session: BankSession,
}

/// `POST /accounts`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountsRequest {
    /// Which of the connector's institutions.
    pub institution_id: String,
    /// The logged-in session.
    pub session: BankSession,
    /// The bank's day and the link's fetch count.
    pub context: FetchContext,
}

/// The answer to `POST /accounts`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountsResponse {
    /// The holder's accounts.
    pub accounts: Vec<BankAccount>,
    /// A replacement for the session, when the bank renewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<BankSession>,
}

/// `POST /movements`: one page of one account's movements.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementsRequest {
    /// Which of the connector's institutions.
    pub institution_id: String,
    /// The logged-in session.
    pub session: BankSession,
    /// The account, as `POST /accounts` returned it.
    pub account: BankAccount,
    /// The `post_date`s wanted, both ends included.
    pub window: DateWindow,
    /// The bank's day and the link's fetch count.
    pub context: FetchContext,
    /// `null` for the first page, then the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The answer to `POST /movements`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementsResponse {
    /// This page's movements, newest first.
    pub movements: Vec<BankMovement>,
    /// Where the next page starts; `null` on the last page.
    pub next_cursor: Option<String>,
    /// A replacement for the session, when the bank renewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<BankSession>,
}

/// Any non-2xx answer: `{"error": {…}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: ErrorBody,
}

/// What went wrong, as a connector reports it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// One of [`ErrorCode`]'s names; an unknown code counts as `other`.
    pub code: String,
    /// For logs and operators; never credentials.
    #[serde(default)]
    pub message: String,
    /// With `wrong_mfa_code`: further attempts the bank allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// With `account_failed`: the bank's id of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_id: Option<String>,
    /// Whose the failure is: `person`, `transient` or `connector`. Optional for the codes
    /// listed here (each has its class); a code Refresco does not know is handled by its
    /// class, and without one as `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// The error codes of protocol v1, one for each [`ConnectorError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_credentials`
    InvalidCredentials,
    /// `credentials_locked`
    CredentialsLocked,
    /// `unavailable`
    Unavailable,
    /// `support_required`
    SupportRequired,
    /// `wrong_mfa_code`
    WrongMfaCode,
    /// `mfa_expired`
    MfaExpired,
    /// `session_expired`
    SessionExpired,
    /// `account_failed`
    AccountFailed,
    /// `password_expired`
    PasswordExpired,
    /// `action_needed`
    ActionNeeded,
    /// `rate_limited`
    RateLimited,
    /// `other`
    Other,
}

impl ErrorCode {
    /// Every code, in the order of the protocol's reference.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidCredentials,
        ErrorCode::CredentialsLocked,
        ErrorCode::Unavailable,
        ErrorCode::SupportRequired,
        ErrorCode::WrongMfaCode,
        ErrorCode::MfaExpired,
        ErrorCode::SessionExpired,
        ErrorCode::AccountFailed,
        ErrorCode::PasswordExpired,
        ErrorCode::ActionNeeded,
        ErrorCode::RateLimited,
        ErrorCode::Other,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::CredentialsLocked => "credentials_locked",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::SupportRequired => "support_required",
            ErrorCode::WrongMfaCode => "wrong_mfa_code",
            ErrorCode::MfaExpired => "mfa_expired",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::AccountFailed => "account_failed",
            ErrorCode::PasswordExpired => "password_expired",
            ErrorCode::ActionNeeded => "action_needed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Other => "other",
        }
    }

    /// Whose the failure the code names is (the class its connector error has).
    pub fn class(self) -> ErrorClass {
        ErrorBody {
            code: self.as_str().to_owned(),
            message: String::new(),
            attempts_left: None,
            bank_id: None,
            class: None,
        }
        .into_error(None)
        .class()
    }

    /// The code of a wire name; `None` for a name this build does not know.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The HTTP status a server answers this error with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidCredentials | ErrorCode::WrongMfaCode => 401,
            ErrorCode::PasswordExpired | ErrorCode::ActionNeeded => 403,
            ErrorCode::CredentialsLocked => 423,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::SessionExpired | ErrorCode::MfaExpired => 409,
            ErrorCode::SupportRequired | ErrorCode::AccountFailed => 422,
            ErrorCode::Other => 500,
        }
    }
}

impl ErrorBody {
    /// The protocol's form of a connector error.
    pub fn from_error(error: &ConnectorError) -> (ErrorCode, Self) {
        let (code, attempts_left, bank_id) = match error {
            ConnectorError::InvalidCredentials => (ErrorCode::InvalidCredentials, None, None),
            ConnectorError::CredentialsLocked => (ErrorCode::CredentialsLocked, None, None),
            ConnectorError::Unavailable => (ErrorCode::Unavailable, None, None),
            ConnectorError::SupportRequired => (ErrorCode::SupportRequired, None, None),
            ConnectorError::WrongMfaCode { attempts_left } => {
                (ErrorCode::WrongMfaCode, *attempts_left, None)
            }
            ConnectorError::MfaExpired => (ErrorCode::MfaExpired, None, None),
            ConnectorError::SessionExpired { .. } => (ErrorCode::SessionExpired, None, None),
            ConnectorError::AccountFailed { bank_id, .. } => {
                (ErrorCode::AccountFailed, None, Some(bank_id.clone()))
            }
            ConnectorError::PasswordExpired => (ErrorCode::PasswordExpired, None, None),
            ConnectorError::ActionNeeded => (ErrorCode::ActionNeeded, None, None),
            ConnectorError::RateLimited => (ErrorCode::RateLimited, None, None),
            ConnectorError::Other(_) => (ErrorCode::Other, None, None),
            ConnectorError::Classified {
                code,
                class,
                message,
            } => {
                // A code this build only passes on: sent as it came, with its class.
                let body = ErrorBody {
                    code: code.clone(),
                    message: message.clone(),
                    attempts_left: None,
                    bank_id: None,
                    class: Some(class.as_str().to_owned()),
                };
                let status_code = match class {
                    ErrorClass::Person => ErrorCode::InvalidCredentials,
                    ErrorClass::Transient => ErrorCode::Unavailable,
                    ErrorClass::Connector => ErrorCode::Other,
                };
                return (status_code, body);
            }
        };
        let body = ErrorBody {
            code: code.as_str().to_owned(),
            message: error.to_string(),
            attempts_left,
            bank_id,
            class: Some(error.class().as_str().to_owned()),
        };
        (code, body)
    }

    /// The connector error this answer stands for. `account` is the bank id of the account
    /// being fetched, for an `account_failed` that does not name one.
    pub fn into_error(self, account: Option<&str>) -> ConnectorError {
        match ErrorCode::parse(&self.code) {
            Some(ErrorCode::InvalidCredentials) => ConnectorError::InvalidCredentials,
            Some(ErrorCode::CredentialsLocked) => ConnectorError::CredentialsLocked,
            Some(ErrorCode::Unavailable) => ConnectorError::Unavailable,
            Some(ErrorCode::SupportRequired) => ConnectorError::SupportRequired,
            Some(ErrorCode::WrongMfaCode) => ConnectorError::WrongMfaCode {
                attempts_left: self.attempts_left,
            },
            Some(ErrorCode::MfaExpired) => ConnectorError::MfaExpired,
            Some(ErrorCode::SessionExpired) => ConnectorError::SessionExpired {
                reason: self.message,
            },
            Some(ErrorCode::AccountFailed) => ConnectorError::AccountFailed {
                bank_id: self
                    .bank_id
                    .or_else(|| account.map(str::to_owned))
                    .unwrap_or_default(),
                reason: self.message,
            },
            Some(ErrorCode::PasswordExpired) => ConnectorError::PasswordExpired,
            Some(ErrorCode::ActionNeeded) => ConnectorError::ActionNeeded,
            Some(ErrorCode::RateLimited) => ConnectorError::RateLimited,
            Some(ErrorCode::Other) => ConnectorError::Other(self.message),
            None => match self.class.as_deref().and_then(ErrorClass::parse) {
                Some(class) => ConnectorError::Classified {
                    code: self.code,
                    class,
                    message: self.message,
                },
                None => ConnectorError::Other(format!(
                    "connector answered an unknown error code {:?} without a class: {}",
                    self.code, self.message
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connector_error_goes_over_the_wire_and_back() {
        let errors = [
            ConnectorError::InvalidCredentials,
            ConnectorError::CredentialsLocked,
            ConnectorError::Unavailable,
            ConnectorError::SupportRequired,
            ConnectorError::WrongMfaCode {
                attempts_left: Some(2),
            },
            ConnectorError::WrongMfaCode {
                attempts_left: None,
            },
            ConnectorError::MfaExpired,
            ConnectorError::AccountFailed {
                bank_id: "acc-1".into(),
                reason: "the bank's page broke".into(),
            },
            ConnectorError::PasswordExpired,
            ConnectorError::ActionNeeded,
            ConnectorError::RateLimited,
            ConnectorError::Classified {
                code: "bank_maintenance".into(),
                class: ErrorClass::Transient,
                message: "back at noon".into(),
            },
        ];
        for error in errors {
            let (_, body) = ErrorBody::from_error(&error);
            let code = body.code.clone();
            assert_eq!(
                body.class.as_deref(),
                Some(error.class().as_str()),
                "every class is sent"
            );
            let wire = serde_json::to_string(&ErrorResponse { error: body }).unwrap();
            let back: ErrorResponse = serde_json::from_str(&wire).unwrap();
            assert_eq!(back.error.code, code);
            let again = back.error.into_error(None);
            assert_eq!(again.class(), error.class(), "{wire}");
            assert_eq!(again.public_error(), error.public_error(), "{wire}");
            assert_eq!(
                std::mem::discriminant(&again),
                std::mem::discriminant(&error),
                "{wire}"
            );
        }
    }

    #[test]
    fn an_unknown_code_follows_its_class_and_account_failed_falls_back_to_the_account() {
        let unknown = |class: Option<&str>| ErrorBody {
            code: "terms_changed".into(),
            message: "accept the new terms".into(),
            attempts_left: None,
            bank_id: None,
            class: class.map(str::to_owned),
        };
        // Without a class (a v1 connector), or with one this build does not know: `other`.
        for class in [None, Some("cosmic")] {
            let error = unknown(class).into_error(None);
            assert!(matches!(&error, ConnectorError::Other(m) if m.contains("terms_changed")));
            assert_eq!(error.public_error(), "support_required_error");
        }
        let person = unknown(Some("person")).into_error(None);
        assert_eq!(person.class(), ErrorClass::Person);
        assert!(person.is_rejection());
        assert_eq!(person.public_error(), "invalid_credentials_error");
        let transient = unknown(Some("transient")).into_error(None);
        assert_eq!(transient.public_error(), "retryable_error");
        assert!(!transient.is_rejection());
        let body = ErrorBody {
            code: "account_failed".into(),
            message: "x".into(),
            attempts_left: None,
            bank_id: None,
            class: None,
        };
        assert!(matches!(
            body.into_error(Some("acc-9")),
            ConnectorError::AccountFailed { bank_id, .. } if bank_id == "acc-9"
        ));
    }

    #[test]
    fn login_outcomes_are_tagged_as_the_protocol_says() {
        let wire = serde_json::to_value(LoginResponse::LoggedIn {
            session: BankSession(serde_json::json!({"t": 1})),
        })
        .unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"outcome": "logged_in", "session": {"t": 1}})
        );
    }
}
