//! Events and webhooks end to end: the real server, a real receiver, both backends.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod claims;
mod delivery;
mod endpoints;
mod order;
mod outbox;
mod retries;
mod support;
