//! What a sandbox [`BankSession`] holds: the holder and scenario, never the password.

use serde::{Deserialize, Serialize};

use crate::connectors::sandbox::profile::SandboxUser;
use crate::connectors::sandbox::scenarios::Scenario;
use crate::connectors::{BankSession, ConnectorError, HolderType, MfaKind};

/// Bumped if the layout changes, so old parked sessions fail cleanly instead of misreading.
const VERSION: u32 = 1;

/// Whether the login went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stage {
    LoggedIn,
    AwaitingMfa { kind: MfaKind },
}

/// The decoded session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionState {
    pub(crate) sandbox_version: u32,
    pub(crate) institution: String,
    pub(crate) holder_id: String,
    pub(crate) holder_type: HolderType,
    pub(crate) scenario: Scenario,
    pub(crate) stage: Stage,
}

impl SessionState {
    pub(crate) fn new(
        institution: &str,
        user: &SandboxUser,
        scenario: Scenario,
        stage: Stage,
    ) -> Self {
        SessionState {
            sandbox_version: VERSION,
            institution: institution.to_string(),
            holder_id: user.holder_id.clone(),
            holder_type: user.holder_type,
            scenario,
            stage,
        }
    }

    pub(crate) fn user(&self) -> SandboxUser {
        SandboxUser {
            holder_id: self.holder_id.clone(),
            holder_type: self.holder_type,
        }
    }

    pub(crate) fn encode(&self) -> BankSession {
        // Serializing plain structs and enums cannot fail; a null session would be refused
        // on decode anyway.
        BankSession(serde_json::to_value(self).unwrap_or_default())
    }

    /// Reads a session this sandbox made for `institution`, at any stage.
    pub(crate) fn decode(session: &BankSession, institution: &str) -> Result<Self, ConnectorError> {
        let state: SessionState = serde_json::from_value(session.0.clone())
            .map_err(|_| expired("not a sandbox session"))?;
        if state.sandbox_version != VERSION {
            return Err(expired("made by another sandbox version"));
        }
        if state.institution != institution {
            return Err(expired("belongs to another institution"));
        }
        Ok(state)
    }

    /// Decodes a session that must be logged in (past any second factor).
    pub(crate) fn logged_in(
        session: &BankSession,
        institution: &str,
    ) -> Result<Self, ConnectorError> {
        let state = Self::decode(session, institution)?;
        match state.stage {
            Stage::LoggedIn => Ok(state),
            Stage::AwaitingMfa { .. } => Err(expired("the second factor was not answered yet")),
        }
    }
}

fn expired(reason: &str) -> ConnectorError {
    ConnectorError::SessionExpired {
        reason: reason.to_string(),
    }
}
