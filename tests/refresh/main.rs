//! Refresh intents end to end: the real server (API and worker) on port 0, both backends.

#[path = "../common/mod.rs"]
mod common;

mod fencing;
mod lifecycle;
mod mfa;
mod recording;
mod rules;
mod scenarios;
mod support;
