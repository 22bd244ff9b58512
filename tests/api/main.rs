//! API integration tests: the real server on port 0, every test on both backends.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod errors;
mod idempotency;
mod idempotent_creates;
mod institutions;
mod isolation;
mod keys;
mod limits;
mod links;
mod movements;
mod params;
mod secrets;
