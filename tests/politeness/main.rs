//! Politeness towards banks and clients: scheduled refreshes, per-institution session caps and
//! circuit breakers, API rate limits. The real server on port 0, both backends, time driven by
//! the test where it can be (a scheduler's round is run at a chosen time).
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

#[path = "../common/process.rs"]
mod process;

mod bank;
mod institutions;
mod logins;
mod rate_limit;
mod schedule;
mod support;
mod unattended;
