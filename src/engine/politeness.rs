//! The gate a refresh passes before it calls its bank: the institution's circuit breaker, then
//! one of its session slots (`store::institution_state` says why both hold across processes).
//! A refresh that may not pass gives its job back to wait (its intent stays `created`) rather
//! than call a bank that is down or busy; after the bank answered, the pass gives the slot back
//! and tells the breaker what the bank said.

use super::EngineContext;
use crate::domain::*;
use crate::store::institution_state::{BreakerGate, BreakerSettings};
use crate::store::ClaimedJob;

/// The right to call an institution's bank, until [`Pass::leave`].
pub struct Pass {
    institution: String,
    slot: i64,
}

/// What the bank's answer says about the institution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankHealth {
    /// It answered (whatever it said about the holder).
    Answered,
    /// It answered `unavailable`.
    Unavailable,
    /// Nothing to learn (the refresh stopped before the bank answered).
    Unknown,
}

fn settings(ctx: &EngineContext) -> BreakerSettings {
    let config = &ctx.config;
    let millis = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
    BreakerSettings {
        failures: i64::from(config.breaker_failures),
        backoff_ms: millis(config.breaker_backoff_ms),
        max_backoff_ms: millis(config.breaker_max_backoff_ms),
        probe_ms: ctx.lease_millis(),
    }
}

/// Lets `job` call `institution`'s bank, or says until when it waits: while the breaker is
/// open, and while every session slot is taken (then it looks again after a worker poll).
pub async fn enter(
    ctx: &EngineContext,
    job: &ClaimedJob,
    institution: &str,
) -> anyhow::Result<Result<Pass, Timestamp>> {
    let now = Timestamp::now();
    let gate = ctx
        .store
        .breaker_gate(institution, now, settings(ctx))
        .await?;
    if let BreakerGate::WaitUntil(until) = gate {
        return Ok(Err(until));
    }
    let max = ctx.config.max_sessions_for(institution);
    let taken = ctx
        .store
        .take_session_slot(institution, max, job, ctx.lease_millis())
        .await?;
    match taken {
        Some(slot) => Ok(Ok(Pass {
            institution: institution.to_owned(),
            slot,
        })),
        None => {
            let poll = i64::try_from(ctx.config.worker_poll_ms.clamp(20, 1000)).unwrap_or(250);
            Ok(Err(now.plus_millis(poll)))
        }
    }
}

impl Pass {
    /// Gives the slot back and tells the breaker how the bank answered. Failures here are
    /// logged, not returned: the refresh's outcome stands either way (a slot left taken is
    /// freed when the job's lease goes).
    pub async fn leave(self, ctx: &EngineContext, job: &ClaimedJob, health: BankHealth) {
        let store = &ctx.store;
        if let Err(e) = store
            .release_session_slot(&self.institution, self.slot, job)
            .await
        {
            tracing::warn!(error = format!("{e:#}"), "releasing a session slot failed");
        }
        let now = Timestamp::now();
        let recorded = match health {
            BankHealth::Answered => store.breaker_success(&self.institution, now).await,
            BankHealth::Unavailable => {
                store
                    .breaker_failure(&self.institution, now, settings(ctx))
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
