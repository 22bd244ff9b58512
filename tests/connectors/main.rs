//! Connectors over the protocol (docs/connectors.md): a connector that fails in every way a
//! service can (hangs, 500s, garbage, a connection cut mid-answer, a restart mid-refresh), one
//! down at start, two claiming one bank, and a refresh end to end through the real
//! `refresco connector serve-sandbox` process. Every test on both backends.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod end_to_end;
mod faults;
mod faulty;
mod restarts;
mod startup;
mod support;
