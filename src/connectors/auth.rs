//! Login types: credentials, sessions and second-factor challenges.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether the link belongs to a person or a company (the link's `holder_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HolderType {
    /// A person (`"individual"`).
    Individual,
    /// A company (`"business"`).
    Business,
}

impl HolderType {
    /// The wire name: `"individual"` or `"business"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HolderType::Individual => "individual",
            HolderType::Business => "business",
        }
    }

    /// Parses the wire name; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "individual" => Some(HolderType::Individual),
            "business" => Some(HolderType::Business),
            _ => None,
        }
    }
}

/// What the holder typed into the widget to connect their bank.
///
/// Serializable only so the engine can seal it; `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    /// The bank login: a RUT in Chile, an RFC in Mexico.
    pub username: String,
    /// The bank password. In the sandbox it may carry scenario modifiers (`jonsnow+mfa_sms`).
    pub password: String,
    /// Whether the login is a person's or a company's.
    pub holder_type: HolderType,
}

impl fmt::Debug for Credentials {
    // Credentials end up in tracing fields and panic messages; the password must not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("holder_type", &self.holder_type)
            .finish()
    }
}

/// Opaque, serializable bank session, so a refresh waiting for MFA can be parked in the
/// database (no thread held) and resumed later, possibly by another process.
///
/// Real connectors may keep cookies or tokens here, so the engine should store it sealed and
/// `Debug` does not print it.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(value_type = Value)]
pub struct BankSession(pub serde_json::Value);

impl fmt::Debug for BankSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BankSession(..)")
    }
}

/// The kind of second factor a bank asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MfaKind {
    /// A code sent by SMS (`"sms"`).
    Sms,
    /// A code shown by a hardware or software token (`"device"`).
    Device,
    /// An approval the holder gives in the bank's mobile app (`"app"`).
    App,
}

impl MfaKind {
    /// The wire name: `"sms"`, `"device"` or `"app"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaKind::Sms => "sms",
            MfaKind::Device => "device",
            MfaKind::App => "app",
        }
    }

    /// The Fintoc widget `onEvent` name announcing this step, e.g. `sms_authentication_required`.
    pub fn widget_event(self) -> &'static str {
        match self {
            MfaKind::Sms => "sms_authentication_required",
            MfaKind::Device => "device_authentication_required",
            MfaKind::App => "app_authentication_required",
        }
    }

    /// Whether the holder answers by typing a code (as opposed to approving in an app).
    pub fn expects_code(self) -> bool {
        !matches!(self, MfaKind::App)
    }
}

/// A second factor the bank is waiting for. Serializable so the engine can park it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MfaChallenge {
    /// How the holder must answer.
    pub kind: MfaKind,
    /// The half-open session to hand back to [`crate::connectors::Connector::answer_mfa`].
    pub session: BankSession,
    /// Text to show the holder, e.g. the masked phone number the SMS went to.
    pub hint: Option<String>,
}

/// The result of a login attempt the bank did not refuse.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginOutcome {
    /// Logged in; the session can list accounts and fetch movements.
    LoggedIn(BankSession),
    /// The bank needs a second factor before it lets the holder in.
    MfaRequired(MfaChallenge),
}

/// The holder's answer to an [`MfaChallenge`]. Serializable so it can wait (sealed) for a worker.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MfaAnswer {
    /// A typed code (SMS or device token).
    Code(String),
    /// The holder approved the login in the bank's app (polled or confirmed in the widget).
    Approved,
}

impl fmt::Debug for MfaAnswer {
    // A one-time code is still a credential while it is valid.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MfaAnswer::Code(_) => f.write_str("Code([redacted])"),
            MfaAnswer::Approved => f.write_str("Approved"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_credentials_never_prints_the_password() {
        let creds = Credentials {
            username: "41614850-3".into(),
            password: "jonsnow+mfa_sms".into(),
            holder_type: HolderType::Individual,
        };
        let printed = format!("{creds:?} {creds:#?}");
        assert!(!printed.contains("jonsnow"), "{printed}");
        assert!(printed.contains("41614850-3"));
    }

    #[test]
    fn debug_of_answers_and_sessions_hides_secrets() {
        let printed = format!("{:?}", MfaAnswer::Code("123456".into()));
        assert!(!printed.contains("123456"));
        let session = BankSession(serde_json::json!({"cookie": "s3cr3t"}));
        assert!(!format!("{session:?}").contains("s3cr3t"));
    }

    #[test]
    fn wire_names_are_snake_case() {
        assert_eq!(serde_json::to_value(MfaKind::Device).unwrap(), "device");
        assert_eq!(
            serde_json::to_value(HolderType::Business).unwrap(),
            "business"
        );
        assert_eq!(
            HolderType::parse("individual"),
            Some(HolderType::Individual)
        );
        assert_eq!(HolderType::parse("Individual"), None);
        assert_eq!(
            serde_json::to_value(MfaAnswer::Code("1".into())).unwrap(),
            serde_json::json!({"code": "1"})
        );
        assert_eq!(
            serde_json::to_value(MfaAnswer::Approved).unwrap(),
            "approved"
        );
        for kind in [MfaKind::Sms, MfaKind::Device, MfaKind::App] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
