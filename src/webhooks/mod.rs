//! Webhooks: signing (pure), the SSRF-guarded client, and the dispatcher that delivers
//! events at least once, with retries.

pub mod client;
pub mod dispatcher;
pub mod recorder;
pub mod signing;
