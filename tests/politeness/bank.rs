//! A bank for the politeness tests: Banco Sandbox Chile under another id, in the test's
//! process, that counts its calls and the most it served at once, takes a while to answer, and
//! can be told to answer `unavailable` (and to recover).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use refresco::connectors::sandbox::{self, SandboxBank};
use refresco::connectors::{
    BankAccount, BankMovement, BankSession, Connector, ConnectorError, Credentials, DateWindow,
    FetchContext, Institution, LoginOutcome, MfaAnswer, MfaChallenge, SandboxConfig, Source,
};

use crate::common::{Backend, TestApp};
use tokio_util::sync::DropGuard;

/// Its institution id.
pub const ID: &str = "cl_banco_cortes";

/// The bank, shared between the registry and the test.
pub struct CountingBank {
    inner: SandboxBank,
    institution: Institution,
    latency: Duration,
    in_flight: AtomicUsize,
    /// The most calls in flight at once.
    pub most: AtomicUsize,
    /// Calls so far.
    pub calls: AtomicUsize,
    /// Answer `unavailable` to every call.
    pub unavailable: AtomicBool,
    /// Ask for an SMS code (`123456`) at every login, as a bank that changed its policy.
    pub mfa: AtomicBool,
}

impl CountingBank {
    /// Registers a new one in `app`'s registry.
    pub fn register(app: &TestApp, latency: Duration) -> Arc<CountingBank> {
        let bank = Arc::new(CountingBank {
            inner: sandbox::chile(SandboxConfig::default()),
            institution: Institution {
                id: Cow::Borrowed(ID),
                name: Cow::Borrowed("Banco Cortés"),
                country: Cow::Borrowed("cl"),
                currency: Cow::Borrowed("CLP"),
            },
            latency,
            in_flight: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            unavailable: AtomicBool::new(false),
            mfa: AtomicBool::new(false),
        });
        bank.register_in(&app.state.registry);
        bank
    }

    /// Registers this bank in `registry` too (another engine's, over the same database).
    pub fn register_in(self: &Arc<Self>, registry: &refresco::connectors::Registry) {
        registry.register(self.clone(), Source::Connector).unwrap();
    }

    async fn call<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, ConnectorError>>,
    ) -> Result<T, ConnectorError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        let result = if self.unavailable.load(Ordering::SeqCst) {
            Err(ConnectorError::Unavailable)
        } else {
            work.await
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

#[async_trait]
impl Connector for CountingBank {
    fn institution(&self) -> &Institution {
        &self.institution
    }

    async fn login(&self, creds: &Credentials) -> Result<LoginOutcome, ConnectorError> {
        if self.mfa.load(Ordering::SeqCst) {
            let asking = Credentials {
                password: format!("{}+mfa_sms", creds.password),
                ..creds.clone()
            };
            return self.call(self.inner.login(&asking)).await;
        }
        self.call(self.inner.login(creds)).await
    }

    async fn answer_mfa(
        &self,
        challenge: &MfaChallenge,
        answer: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError> {
        self.call(self.inner.answer_mfa(challenge, answer)).await
    }

    async fn list_accounts(
        &self,
        session: &mut BankSession,
        ctx: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError> {
        self.call(self.inner.list_accounts(session, ctx)).await
    }

    async fn fetch_movements(
        &self,
        session: &mut BankSession,
        account: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        self.call(self.inner.fetch_movements(session, account, window, ctx))
            .await
    }
}

/// Creates a link at the counting bank and waits for its first history.
pub async fn link(app: &TestApp, username: &str) -> (serde_json::Value, String) {
    app.create_link_with(&app.keys.secret_key, ID, username, "jonsnow")
        .await
}

/// A counting bank answering after `latency` in a fresh app on `backend` (after `adjust`).
/// With `beside`, on PostgreSQL, a second engine over the same database (its own pool,
/// worker and registry, the bank registered there too) runs as a second process would, while
/// the returned guard lives: whatever the test shows holds across processes.
pub async fn app_with_bank(
    backend: Backend,
    latency: Duration,
    beside: bool,
    adjust: impl FnOnce(&mut refresco::Config),
) -> (TestApp, Arc<CountingBank>, Option<DropGuard>) {
    let app = crate::support::app_with(backend, adjust).await;
    let bank = CountingBank::register(&app, latency);
    let second = match backend {
        Backend::Postgres if beside => Some(
            crate::support::engine_beside(&app, |engine| {
                bank.register_in(&engine.state().registry)
            })
            .await,
        ),
        _ => None,
    };
    (app, bank, second)
}
