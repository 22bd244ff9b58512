//! Work that talks to banks: creating links, and the durable refresh engine (job claiming with
//! leases, the refresh runner, MFA parking and answers).

pub mod convert;
pub mod events;
pub mod intents;
pub mod link_intents;
pub mod linking;
pub mod mfa;
pub mod politeness;
pub mod refresh;
pub mod scheduler;
pub mod widget_login;
pub mod widget_reconnect;
pub mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Config;
use crate::connectors::Registry;
use crate::crypto::MasterKey;
use crate::store::Store;

/// What the engine needs, shared by the API (which creates jobs and answers MFA) and workers.
pub struct EngineContext {
    /// The database.
    pub store: Store,
    /// Seals and unseals credentials and bank sessions.
    pub keys: Arc<MasterKey>,
    /// Bank connectors.
    pub registry: Arc<Registry>,
    /// Settings.
    pub config: Arc<Config>,
    /// Wakes this process's worker when a job becomes ready here, so it need not wait for
    /// its next poll (other processes find the job by polling).
    pub wake: Notify,
    /// Wakes this process's webhook dispatcher when deliveries were queued here (the same
    /// `Notify` as [`crate::webhooks::WebhookContext::wake`]).
    pub webhook_wake: Arc<Notify>,
}

impl EngineContext {
    /// Lease length in milliseconds.
    pub fn lease_millis(&self) -> i64 {
        secs_to_millis(self.config.job_lease_secs)
    }

    /// MFA challenge lifetime in milliseconds.
    pub fn mfa_timeout_millis(&self) -> i64 {
        secs_to_millis(self.config.mfa_timeout_secs)
    }

    /// Whole-refresh deadline in milliseconds.
    pub fn refresh_timeout_millis(&self) -> i64 {
        secs_to_millis(self.config.refresh_timeout_secs)
    }

    /// How long a link intent's tokens work, in milliseconds.
    pub fn link_intent_ttl_millis(&self) -> i64 {
        secs_to_millis(self.config.link_intent_ttl_secs)
    }

    /// The link-creation service over this context.
    pub fn linker(&self) -> linking::Linker<'_> {
        linking::Linker {
            store: &self.store,
            keys: &self.keys,
            registry: &self.registry,
            config: &self.config,
        }
    }
}

pub(crate) fn secs_to_millis(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}
