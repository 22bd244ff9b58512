//! The Python connector SDK's examples against Refresco itself: the fake bank's connector and
//! the woob bridge (on the fake bank's woob module) each pass `refresco connector check`; and
//! Refresco configured with the fake bank's connector links, refreshes with an SMS code, sees
//! the bank's changes as new, modified and removed movements, and sends webhooks, through the
//! API (the server in process, both backends) and through the widget in Chromium (the real
//! `refresco serve --connector` binary).
//!
//! The Python sides run from the virtual environments `scripts/test` makes (`.venv-connectors`
//! and `.venv-woob`, see sdk/python/requirements*.txt). Without them the tests print `SKIPPED`
//! and pass, except in CI (`CI` set, not `false`), where they fail.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/process.rs"]
mod process;
#[path = "../connectors/support.rs"]
#[allow(dead_code)]
mod support;

mod browser;
mod check;
mod end_to_end;
mod python;
