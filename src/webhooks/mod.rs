//! Webhooks: signing (pure), the SSRF-guarded client, and the dispatcher that delivers
//! events at least once, with retries.

pub mod client;
pub mod dispatcher;
pub mod recorder;
pub mod signing;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::store::Store;

/// What the dispatcher needs: its own, so webhooks neither know nor wait for the refresh
/// engine. The wake-up is shared with whoever queues deliveries in this process.
pub struct WebhookContext {
    /// Deliveries, endpoints and attempts.
    pub store: Store,
    /// Unseals endpoint secrets.
    pub keys: Arc<MasterKey>,
    /// The `webhook_*` settings (and the poll interval).
    pub config: Arc<Config>,
    /// Wakes this process's dispatcher when deliveries were queued here, so it need not wait
    /// for its next poll.
    pub wake: Arc<Notify>,
}
