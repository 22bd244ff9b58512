//! The built-in sandbox institutions: `cl_banco_sandbox` and `mx_banco_sandbox`.
//!
//! They are deterministic: no clock, no randomness but SHA-256 seeds of (institution, holder,
//! day, account, index), so the same credentials and the same [`FetchContext`] always give the
//! same answers. The password `jonsnow` takes `+modifier`s that pick a scenario (second factor,
//! failures, latency, changing data); `docs/sandbox.md` has the table.

mod changes;
mod chile;
mod data;
mod mexico;
mod profile;
mod scenarios;
mod seed;
mod session;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_data;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

pub use changes::{CHANGE_DAYS, CHANGE_ROUNDS, MAX_ADDING_REFRESHES, NEW_PER_REFRESH};
pub use scenarios::{MAX_LATENCY, MFA_CODE, PASSWORD};

use crate::connectors::sandbox::data::Account;
use crate::connectors::sandbox::profile::Profile;
use crate::connectors::sandbox::scenarios::Scenario;
use crate::connectors::sandbox::seed::Rng;
use crate::connectors::sandbox::session::{SessionState, Stage};
use crate::connectors::{
    BankAccount, BankMovement, BankSession, Connector, ConnectorError, Credentials, DateWindow,
    FetchContext, Institution, LoginOutcome, MfaAnswer, MfaChallenge, MfaKind,
};

/// Settings shared by every sandbox bank of a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Extra latency on every bank call, added to any `+slow…` of the credentials. Default 0.
    pub latency: Duration,
}

/// A sandbox bank: one [`Connector`] per country, sharing all behaviour but the data's flavour.
pub struct SandboxBank {
    profile: &'static dyn Profile,
    config: SandboxConfig,
}

/// `cl_banco_sandbox`, "Banco Sandbox Chile" (CLP; Fintoc's test RUTs; no MFA by default).
pub fn chile(config: SandboxConfig) -> SandboxBank {
    SandboxBank {
        profile: &chile::Chile,
        config,
    }
}

/// `mx_banco_sandbox`, "Banco Sandbox México" (MXN in centavos; RFCs; every login needs MFA).
pub fn mexico(config: SandboxConfig) -> SandboxBank {
    SandboxBank {
        profile: &mexico::Mexico,
        config,
    }
}

/// One account of a [`SandboxBank::snapshot`], with its movements or its error.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSnapshot {
    /// The account as `list_accounts` returns it.
    pub account: BankAccount,
    /// What `fetch_movements` returns for it.
    pub movements: Result<Vec<BankMovement>, ConnectorError>,
}

impl SandboxBank {
    /// What this bank returns for `creds` at `ctx`: the same code as `login` (minus the
    /// second factor, taken as answered), `list_accounts` and `fetch_movements`, without
    /// latency. Tests use it to know the expected accounts and movements of a refresh.
    pub fn snapshot(
        &self,
        creds: &Credentials,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<AccountSnapshot>, ConnectorError> {
        let (user, scenario) = self.authenticate(creds)?;
        let state = SessionState::new(self.id(), &user, scenario, Stage::LoggedIn);
        let accounts = self.accounts(&state, ctx)?;
        Ok(accounts
            .iter()
            .map(|account| AccountSnapshot {
                account: account.bank.clone(),
                movements: self.movements(&state, &account.bank, window, ctx),
            })
            .collect())
    }

    fn id(&self) -> &'static str {
        &self.profile.institution().id
    }

    /// Checks username and password; on success, the holder and the scenario they ask for.
    fn authenticate(
        &self,
        creds: &Credentials,
    ) -> Result<(profile::SandboxUser, Scenario), ConnectorError> {
        let user = self.profile.user(&creds.username, creds.holder_type)?;
        let scenario = Scenario::parse(&creds.password)?;
        match scenario.login_failure() {
            Some(error) => Err(error),
            None => Ok((user, scenario)),
        }
    }

    fn accounts(
        &self,
        state: &SessionState,
        ctx: &FetchContext,
    ) -> Result<Vec<Account>, ConnectorError> {
        if let Some(error) = state.scenario.failure_at(ctx.refresh_number) {
            return Err(error);
        }
        let history = state.scenario.history;
        Ok(data::accounts(
            self.profile,
            &state.user(),
            history,
            ctx.today,
        ))
    }

    fn movements(
        &self,
        state: &SessionState,
        wanted: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        let accounts = self.accounts(state, ctx)?;
        let position = accounts
            .iter()
            .position(|a| a.bank.bank_id == wanted.bank_id)
            .ok_or_else(|| ConnectorError::AccountFailed {
                bank_id: wanted.bank_id.clone(),
                reason: "the bank has no such account for this holder".to_string(),
            })?;
        let account = &accounts[position];
        // The second account (always present) is the one `+fail_account` breaks.
        if position == 1 && state.scenario.account_fails(ctx.refresh_number) {
            return Err(ConnectorError::AccountFailed {
                bank_id: wanted.bank_id.clone(),
                reason:
                    "the bank could not produce this account's statement (sandbox fail_account)"
                        .to_string(),
            });
        }
        let user = state.user();
        let history = state.scenario.history;
        let mut movements =
            data::base_movements(self.profile, &user, account, history, window, ctx.today);
        if state.scenario.changes {
            changes::apply(self.profile, &user, account, window, ctx, &mut movements);
        }
        Ok(movements)
    }

    /// Waits the configured plus requested latency (tokio time, so paused-time tests are instant).
    async fn delay(&self, scenario: Option<&Scenario>) {
        let latency = self.config.latency + scenario.map_or(Duration::ZERO, Scenario::latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }

    fn challenge(&self, state: &SessionState, kind: MfaKind) -> MfaChallenge {
        let mut rng = Rng::new(&[self.id(), &state.holder_id, "phone"]);
        let hint = match kind {
            MfaKind::Sms => format!(
                "Enviamos un código por SMS al {} **** {}",
                self.profile.phone_prefix(),
                rng.digits(4)
            ),
            MfaKind::Device => "Ingresa la clave que muestra tu token digital".to_string(),
            MfaKind::App => format!(
                "Aprueba el ingreso en la app de {}",
                self.profile.institution().name
            ),
        };
        MfaChallenge {
            kind,
            session: state.encode(),
            hint: Some(hint),
        }
    }
}

impl fmt::Debug for SandboxBank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxBank")
            .field("institution", &self.id())
            .field("config", &self.config)
            .finish()
    }
}

#[async_trait]
impl Connector for SandboxBank {
    fn institution(&self) -> &Institution {
        self.profile.institution()
    }

    async fn login(&self, creds: &Credentials) -> Result<LoginOutcome, ConnectorError> {
        // Even a refused password is slow at a slow bank.
        let requested = Scenario::parse(&creds.password).ok();
        self.delay(requested.as_ref()).await;
        let (user, scenario) = self.authenticate(creds)?;
        match scenario.mfa.or(self.profile.default_mfa()) {
            None => {
                let state = SessionState::new(self.id(), &user, scenario, Stage::LoggedIn);
                Ok(LoginOutcome::LoggedIn(state.encode()))
            }
            Some(kind) => {
                let stage = Stage::AwaitingMfa { kind };
                let state = SessionState::new(self.id(), &user, scenario, stage);
                Ok(LoginOutcome::MfaRequired(self.challenge(&state, kind)))
            }
        }
    }

    async fn answer_mfa(
        &self,
        challenge: &MfaChallenge,
        answer: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError> {
        let mut state = SessionState::decode(&challenge.session, self.id())?;
        self.delay(Some(&state.scenario)).await;
        // Trust the session we signed off on, not the challenge's copy of the kind.
        let Stage::AwaitingMfa { kind } = state.stage else {
            return Err(ConnectorError::SessionExpired {
                reason: "no second factor is pending on this session".to_string(),
            });
        };
        let accepted = match (kind.expects_code(), answer) {
            (true, MfaAnswer::Code(code)) => code.trim() == MFA_CODE,
            (false, MfaAnswer::Approved) => true,
            _ => false,
        };
        if !accepted {
            // The sandbox never locks on wrong codes, so it cannot count attempts.
            return Err(ConnectorError::WrongMfaCode {
                attempts_left: None,
            });
        }
        state.stage = Stage::LoggedIn;
        Ok(state.encode())
    }

    async fn list_accounts(
        &self,
        session: &mut BankSession,
        ctx: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError> {
        let state = SessionState::logged_in(session, self.id())?;
        self.delay(Some(&state.scenario)).await;
        let accounts = self.accounts(&state, ctx)?;
        Ok(accounts.into_iter().map(|a| a.bank).collect())
    }

    async fn fetch_movements(
        &self,
        session: &mut BankSession,
        account: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        let state = SessionState::logged_in(session, self.id())?;
        self.delay(Some(&state.scenario)).await;
        self.movements(&state, account, window, ctx)
    }
}

/// How far back the bank's history reaches for credentials with `password` at `today`
/// (6 months; 24 with `+long_history`; 5 days with `+instant`). `None` for a refused password.
pub fn history_start(password: &str, today: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
    let scenario = Scenario::parse(password).ok()?;
    Some(data::history_start(scenario.history, today))
}
