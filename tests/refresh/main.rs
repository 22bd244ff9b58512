//! Refresh intents end to end: the real server (API and worker) on port 0, both backends.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod error_classes;
mod fencing;
mod first_history;
mod lifecycle;
mod mfa;
mod recording;
mod rules;
mod scenarios;
mod support;
