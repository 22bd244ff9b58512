//! Magic credentials: the sandbox password `jonsnow` plus `+modifier`s choosing a scenario.
//!
//! The username decides *whose* data the bank shows; the modifiers decide *how* the bank
//! behaves (second factor, failures, latency, data shape). So `jonsnow` and `jonsnow+slow2s`
//! give the same accounts and movements, only slower. The table of modifiers is in
//! `docs/sandbox.md`; this parser is its single source of truth.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::connectors::{ConnectorError, ErrorClass, MfaKind};

/// The only password the sandbox banks accept (before modifiers), as in Fintoc's test mode.
pub const PASSWORD: &str = "jonsnow";

/// The SMS or device code that passes the sandbox's second factor.
pub const MFA_CODE: &str = "123456";

/// Longest latency `+slow…` may ask for; longer values are cut to it.
pub const MAX_LATENCY: Duration = Duration::from_secs(600);

/// A bank failure a modifier forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Failure {
    Invalid,
    Locked,
    Unavailable,
    Support,
    PasswordExpired,
    ActionNeeded,
    RateLimited,
    /// A code no build of Refresco knows, with the class the bank's connector gives it.
    Unknown(ErrorClass),
}

impl Failure {
    pub(crate) fn error(self) -> ConnectorError {
        match self {
            Failure::Invalid => ConnectorError::InvalidCredentials,
            Failure::Locked => ConnectorError::CredentialsLocked,
            Failure::Unavailable => ConnectorError::Unavailable,
            Failure::Support => ConnectorError::SupportRequired,
            Failure::PasswordExpired => ConnectorError::PasswordExpired,
            Failure::ActionNeeded => ConnectorError::ActionNeeded,
            Failure::RateLimited => ConnectorError::RateLimited,
            Failure::Unknown(class) => ConnectorError::Classified {
                code: format!("sandbox_unknown_{}", class.as_str()),
                class,
                message: "a code of the sandbox bank that Refresco does not know".into(),
            },
        }
    }

    /// The failure a modifier names (without its `@n`).
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "invalid" => Failure::Invalid,
            "locked" => Failure::Locked,
            "unavailable" => Failure::Unavailable,
            "support" => Failure::Support,
            "password_expired" => Failure::PasswordExpired,
            "action_needed" => Failure::ActionNeeded,
            "rate_limited" => Failure::RateLimited,
            _ => Failure::Unknown(ErrorClass::parse(name.strip_prefix("unknown_")?)?),
        })
    }
}

/// A failure and when it starts: at login (`None`), or from refresh number `n` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Trigger {
    pub(crate) failure: Failure,
    pub(crate) from_refresh: Option<u32>,
}

/// How much history the bank keeps, and how dense it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum History {
    /// Six calendar months, 1 to 3 movements per account per day.
    #[default]
    Standard,
    /// Twenty-four calendar months, same density.
    Long,
    /// Exactly two accounts with 25 movements each, all in the last five days.
    Instant,
}

/// Everything the modifiers of one password ask for. Stored in the bank session, so a resumed
/// refresh behaves like the login that started it without keeping the password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Scenario {
    pub(crate) mfa: Option<MfaKind>,
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) latency_ms: u64,
    pub(crate) fail_account_from: Option<u32>,
    pub(crate) changes: bool,
    pub(crate) history: History,
}

impl Scenario {
    /// Reads `jonsnow[+modifier…]`. Anything else, including an unknown modifier, is refused
    /// like a wrong password. When a setting is given twice, the last one wins.
    pub(crate) fn parse(password: &str) -> Result<Self, ConnectorError> {
        let mut parts = password.split('+');
        if parts.next() != Some(PASSWORD) {
            return Err(ConnectorError::InvalidCredentials);
        }
        let mut scenario = Scenario::default();
        for raw in parts {
            // Be lenient with what people type in a password box: case and `-` for `_`.
            let modifier = raw.trim().to_ascii_lowercase().replace('-', "_");
            scenario
                .apply(&modifier)
                .ok_or(ConnectorError::InvalidCredentials)?;
        }
        Ok(scenario)
    }

    fn apply(&mut self, modifier: &str) -> Option<()> {
        if let Some(latency) = parse_latency(modifier) {
            self.latency_ms = u64::try_from(latency.min(MAX_LATENCY).as_millis()).ok()?;
            return Some(());
        }
        let (name, from_refresh) = match modifier.split_once('@') {
            Some((name, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                (name, Some(n.parse::<u32>().ok()?))
            }
            Some(_) => return None,
            None => (modifier, None),
        };
        if let Some(failure) = Failure::named(name) {
            self.triggers.push(Trigger {
                failure,
                from_refresh,
            });
            return Some(());
        }
        if name == "fail_account" {
            self.fail_account_from = Some(from_refresh.unwrap_or(0));
            return Some(());
        }
        if from_refresh.is_some() {
            return None;
        }
        match name {
            "mfa_sms" => self.mfa = Some(MfaKind::Sms),
            "mfa_device" => self.mfa = Some(MfaKind::Device),
            "mfa_app" => self.mfa = Some(MfaKind::App),
            "changes" => self.changes = true,
            "long_history" => self.history = History::Long,
            "instant" => self.history = History::Instant,
            _ => return None,
        }
        Some(())
    }

    /// The failure the login itself meets (the first `+failure` without `@n`).
    pub(crate) fn login_failure(&self) -> Option<ConnectorError> {
        self.triggers
            .iter()
            .find(|t| t.from_refresh.is_none())
            .map(|t| t.failure.error())
    }

    /// The failure a fetch at `refresh_number` meets: among the `+failure@n` with
    /// `n <= refresh_number`, the one with the largest `n` (so `unavailable@1+invalid@3` is
    /// unavailable on refreshes 1 and 2, rejected from 3 on); the first written on a tie.
    pub(crate) fn failure_at(&self, refresh_number: u32) -> Option<ConnectorError> {
        let mut due: Option<&Trigger> = None;
        for trigger in &self.triggers {
            if let Some(from) = trigger.from_refresh.filter(|n| *n <= refresh_number) {
                if due
                    .and_then(|d| d.from_refresh)
                    .is_none_or(|best| from > best)
                {
                    due = Some(trigger);
                }
            }
        }
        due.map(|t| t.failure.error())
    }

    /// Whether the failing account (the second one) errs at `refresh_number`.
    pub(crate) fn account_fails(&self, refresh_number: u32) -> bool {
        self.fail_account_from.is_some_and(|n| n <= refresh_number)
    }

    /// Extra latency the credentials ask for on every bank call.
    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

/// `slow<N>s` or `slow<N>ms`.
fn parse_latency(modifier: &str) -> Option<Duration> {
    let amount = modifier.strip_prefix("slow")?;
    let (number, millis) = match amount.strip_suffix("ms") {
        Some(number) => (number, true),
        None => (amount.strip_suffix('s')?, false),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Saturate absurdly long numbers; the caller caps the result anyway.
    let n: u64 = number.parse().unwrap_or(u64::MAX);
    Some(if millis {
        Duration::from_millis(n)
    } else {
        Duration::from_secs(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_password_is_the_default_scenario() {
        assert_eq!(Scenario::parse("jonsnow").unwrap(), Scenario::default());
    }

    #[test]
    fn wrong_passwords_and_unknown_modifiers_are_invalid_credentials() {
        for bad in [
            "",
            "JONSNOW",
            "jonsnow ",
            "aryastark",
            "jonsnow+",
            "jonsnow+mfa",
            "jonsnow+mfa_sms@1",
            "jonsnow+slow",
            "jonsnow+slowms",
            "jonsnow+locked@",
            "jonsnow+locked@x",
        ] {
            assert_eq!(
                Scenario::parse(bad),
                Err(ConnectorError::InvalidCredentials),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn modifiers_combine_and_last_wins() {
        let s = Scenario::parse("jonsnow+MFA-App+slow250ms+changes+long_history+instant").unwrap();
        assert_eq!(s.mfa, Some(MfaKind::App));
        assert_eq!(s.latency(), Duration::from_millis(250));
        assert!(s.changes);
        assert_eq!(s.history, History::Instant);
        assert_eq!(
            Scenario::parse("jonsnow+slow5s").unwrap().latency(),
            Duration::from_secs(5)
        );
        assert_eq!(
            Scenario::parse("jonsnow+slow99999s").unwrap().latency(),
            MAX_LATENCY
        );
    }

    #[test]
    fn failures_fire_at_login_or_from_a_refresh_on() {
        let s = Scenario::parse("jonsnow+locked").unwrap();
        assert_eq!(s.login_failure(), Some(ConnectorError::CredentialsLocked));
        assert_eq!(s.failure_at(5), None);

        let s = Scenario::parse("jonsnow+unavailable@1+invalid@3").unwrap();
        assert_eq!(s.login_failure(), None);
        assert_eq!(s.failure_at(0), None);
        assert_eq!(s.failure_at(1), Some(ConnectorError::Unavailable));
        assert_eq!(s.failure_at(2), Some(ConnectorError::Unavailable));
        assert_eq!(s.failure_at(3), Some(ConnectorError::InvalidCredentials));

        let s = Scenario::parse("jonsnow+fail_account").unwrap();
        assert!(s.account_fails(0));
        let s = Scenario::parse("jonsnow+fail_account@2+support@4").unwrap();
        assert!(!s.account_fails(1) && s.account_fails(2));
        assert_eq!(s.failure_at(4), Some(ConnectorError::SupportRequired));
    }
}
