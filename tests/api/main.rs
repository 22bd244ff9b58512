//! API integration tests: the real server on port 0, every test on both backends.

#[path = "../common/mod.rs"]
mod common;

mod errors;
mod idempotency;
mod isolation;
mod limits;
mod links;
mod movements;
mod params;
mod secrets;
