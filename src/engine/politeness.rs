//! The gate a refresh or a login passes before it calls its bank: the institution's circuit
//! breaker, then one of its session slots (`store::institution_state` says why both hold across
//! processes). A refresh that may not pass gives its job back to wait (its intent stays
//! `created`) rather than call a bank that is down or busy; a login of link creation, whose
//! person is waiting, waits a little for a slot and is refused while the bank is down. After
//! the bank answered, the pass gives the slot back and tells the breaker what the bank said.

use std::future::Future;

use super::EngineContext;
use crate::config::Config;
use crate::connectors::ConnectorError;
use crate::domain::*;
use crate::store::institution_state::{BreakerGate, BreakerSettings, SlotHolder};
use crate::store::{ClaimedJob, Store};

/// The right to call an institution's bank, until [`Pass::leave`].
pub struct Pass {
    institution: String,
    slot: i64,
    holder: SlotHolder,
}

/// What the bank's answer says about the institution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankHealth {
    /// It answered (whatever it said about the holder).
    Answered,
    /// It answered `unavailable`.
    Unavailable,
    /// Nothing to learn (the work stopped before the bank answered).
    Unknown,
}

/// Why a login may not call its bank now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The institution's circuit breaker is open until then.
    Down(Timestamp),
    /// Every session slot stayed taken for `login_slot_wait_ms`; look again then.
    Busy(Timestamp),
}

fn settings(config: &Config, probe_ms: i64) -> BreakerSettings {
    let millis = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
    BreakerSettings {
        failures: i64::from(config.breaker_failures),
        backoff_ms: millis(config.breaker_backoff_ms),
        max_backoff_ms: millis(config.breaker_max_backoff_ms),
        probe_ms,
    }
}

/// How long to wait before looking for a free slot again.
fn poll_millis(config: &Config) -> i64 {
    i64::try_from(config.worker_poll_ms.clamp(20, 1000)).unwrap_or(250)
}

/// One look at the gate: the breaker, then a slot held for `lease_millis`. `Err` says until
/// when the breaker is open, or (`Ok(None)`) that every slot is taken.
async fn try_enter(
    store: &Store,
    config: &Config,
    holder: SlotHolder,
    institution: &str,
    lease_millis: i64,
) -> anyhow::Result<Result<Option<Pass>, Timestamp>> {
    let gate = store
        .breaker_gate(
            institution,
            Timestamp::now(),
            settings(config, lease_millis),
        )
        .await?;
    if let BreakerGate::WaitUntil(until) = gate {
        return Ok(Err(until));
    }
    let max = config.max_sessions_for(institution);
    let taken = store
        .take_session_slot(institution, max, &holder, lease_millis)
        .await?;
    Ok(Ok(taken.map(|slot| Pass {
        institution: institution.to_owned(),
        slot,
        holder,
    })))
}

/// Lets `job` call `institution`'s bank, or says until when it waits: while the breaker is
/// open, and while every session slot is taken (then it looks again after a worker poll).
pub async fn enter(
    ctx: &EngineContext,
    job: &ClaimedJob,
    institution: &str,
) -> anyhow::Result<Result<Pass, Timestamp>> {
    let (store, config) = (&ctx.store, ctx.config.as_ref());
    let holder = SlotHolder::from(job);
    Ok(
        match try_enter(store, config, holder, institution, ctx.lease_millis()).await? {
            Ok(Some(pass)) => Ok(pass),
            Ok(None) => Err(Timestamp::now().plus_millis(poll_millis(config))),
            Err(until) => Err(until),
        },
    )
}

/// Runs `work`, a login of link creation (API, CLI or widget) with the bank calls that follow
/// it, under a session slot of `institution`, as refreshes do. A person is waiting, so while
/// the breaker is open it is refused at once, and it waits for a slot at most
/// `login_slot_wait_ms`. `work` may take at most `login_timeout_secs` (the slot's lease):
/// past that it ends with `timed_out`. `health` reads the bank's health off its result.
pub async fn at_the_bank<T, E>(
    store: &Store,
    config: &Config,
    institution: &str,
    work: impl Future<Output = Result<T, E>>,
    health: impl Fn(&Result<T, E>) -> BankHealth,
    timed_out: impl FnOnce() -> E,
) -> anyhow::Result<Result<Result<T, E>, Closed>> {
    let lease_millis = super::secs_to_millis(config.login_timeout_secs);
    let waited_until =
        Timestamp::now().plus_millis(i64::try_from(config.login_slot_wait_ms).unwrap_or(i64::MAX));
    let pass = loop {
        let holder = SlotHolder::login();
        match try_enter(store, config, holder, institution, lease_millis).await? {
            Ok(Some(pass)) => break pass,
            Err(until) => return Ok(Err(Closed::Down(until))),
            Ok(None) => {
                // Looks again every poll, and a last time at the end of the wait.
                let left = waited_until.millis() - Timestamp::now().millis();
                if left <= 0 {
                    let next = Timestamp::now().plus_millis(poll_millis(config));
                    return Ok(Err(Closed::Busy(next)));
                }
                let wait = u64::try_from(poll_millis(config).min(left)).unwrap_or(0);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
        }
    };
    let limit = std::time::Duration::from_millis(u64::try_from(lease_millis).unwrap_or(u64::MAX));
    let result = tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(timed_out()));
    let answered = health(&result);
    pass.leave(store, config, answered).await;
    Ok(Ok(result))
}

/// What a connector's answer says about its bank.
pub fn health_of<T>(result: &Result<T, ConnectorError>) -> BankHealth {
    match result {
        Err(ConnectorError::Unavailable) => BankHealth::Unavailable,
        _ => BankHealth::Answered,
    }
}

impl Pass {
    /// Gives the slot back and tells the breaker how the bank answered. Failures here are
    /// logged, not returned: the work's outcome stands either way (a slot left taken is
    /// freed when its lease runs out).
    pub async fn leave(self, store: &Store, config: &Config, health: BankHealth) {
        if let Err(e) = store
            .release_session_slot(&self.institution, self.slot, &self.holder)
            .await
        {
            tracing::warn!(error = format!("{e:#}"), "releasing a session slot failed");
        }
        let now = Timestamp::now();
        let recorded = match health {
            BankHealth::Answered => store.breaker_success(&self.institution, now).await,
            BankHealth::Unavailable => {
                // The probe time only matters when taking a slot; any value serves here.
                store
                    .breaker_failure(&self.institution, now, settings(config, 0))
                    .await
            }
            BankHealth::Unknown => Ok(()),
        };
        if let Err(e) = recorded {
            tracing::warn!(
                error = format!("{e:#}"),
                "recording the bank's health failed"
            );
        }
    }
}
