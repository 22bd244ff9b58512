//! A [`Connector`] that times and counts every call of the one it wraps, so each bank's
//! latency and errors show in the metrics whatever the connector is (built in or remote), and
//! runs each in a `connector_call` span (exported over OTLP when configured; a connector
//! service's `traceparent` names it).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tracing::Instrument;

use super::Metrics;
use crate::connectors::{
    BankAccount, BankMovement, BankSession, Connector, ConnectorError, Credentials, DateWindow,
    ErrorClass, FetchContext, Institution, LoginOutcome, MfaAnswer, MfaChallenge,
};

/// Wraps `inner` so its calls are recorded in `metrics`.
pub fn instrument(inner: Arc<dyn Connector>, metrics: &Arc<Metrics>) -> Arc<dyn Connector> {
    Arc::new(Instrumented {
        inner,
        metrics: metrics.clone(),
    })
}

struct Instrumented {
    inner: Arc<dyn Connector>,
    metrics: Arc<Metrics>,
}

/// The `result` label of a call: `ok`, or which kind of error (never its message, which may
/// quote the bank).
fn result_of<T>(result: &Result<T, ConnectorError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(ConnectorError::InvalidCredentials) => "invalid_credentials",
        Err(ConnectorError::CredentialsLocked) => "credentials_locked",
        Err(ConnectorError::Unavailable) => "unavailable",
        Err(ConnectorError::SupportRequired) => "support_required",
        Err(ConnectorError::WrongMfaCode { .. }) => "wrong_mfa_code",
        Err(ConnectorError::MfaExpired) => "mfa_expired",
        Err(ConnectorError::SessionExpired { .. }) => "session_expired",
        Err(ConnectorError::AccountFailed { .. }) => "account_failed",
        Err(ConnectorError::PasswordExpired) => "password_expired",
        Err(ConnectorError::ActionNeeded) => "action_needed",
        Err(ConnectorError::RateLimited) => "rate_limited",
        Err(ConnectorError::Other(_)) => "other",
        // The connector's own code could be anything: the label says only its class.
        Err(ConnectorError::Classified { class, .. }) => match class {
            ErrorClass::Person => "unknown_person",
            ErrorClass::Transient => "unknown_transient",
            ErrorClass::Connector => "unknown_connector",
        },
    }
}

impl Instrumented {
    /// The span of one call: which bank and which operation, nothing the call carries.
    fn span(&self, operation: &'static str) -> tracing::Span {
        tracing::info_span!(
            "connector_call",
            institution = %self.inner.institution().id,
            operation,
        )
    }

    fn record<T>(
        &self,
        operation: &'static str,
        started: Instant,
        result: &Result<T, ConnectorError>,
    ) {
        self.metrics.connector_call(
            &self.inner.institution().id,
            operation,
            result_of(result),
            started.elapsed(),
        );
    }
}

#[async_trait]
impl Connector for Instrumented {
    fn institution(&self) -> &Institution {
        self.inner.institution()
    }

    async fn login(&self, creds: &Credentials) -> Result<LoginOutcome, ConnectorError> {
        let started = Instant::now();
        let result = self.inner.login(creds).instrument(self.span("login")).await;
        self.record("login", started, &result);
        result
    }

    async fn answer_mfa(
        &self,
        challenge: &MfaChallenge,
        answer: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError> {
        let started = Instant::now();
        let result = self
            .inner
            .answer_mfa(challenge, answer)
            .instrument(self.span("answer_mfa"))
            .await;
        self.record("answer_mfa", started, &result);
        result
    }

    async fn list_accounts(
        &self,
        session: &mut BankSession,
        ctx: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError> {
        let started = Instant::now();
        let result = self
            .inner
            .list_accounts(session, ctx)
            .instrument(self.span("list_accounts"))
            .await;
        self.record("list_accounts", started, &result);
        result
    }

    async fn fetch_movements(
        &self,
        session: &mut BankSession,
        account: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        let started = Instant::now();
        let result = self
            .inner
            .fetch_movements(session, account, window, ctx)
            .instrument(self.span("fetch_movements"))
            .await;
        self.record("fetch_movements", started, &result);
        result
    }
}
