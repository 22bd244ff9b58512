//! Events and webhooks end to end: the real server, a real receiver, both backends.

#[path = "../common/mod.rs"]
mod common;

mod claims;
mod delivery;
mod endpoints;
mod outbox;
mod retries;
mod support;
