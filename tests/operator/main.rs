//! The operator's side: `/metrics` scraped and parsed as Prometheus parses it, the operator
//! token's gate, and the dashboard's pages and actions over HTTP, on both backends.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/process.rs"]
mod process;

mod dashboard;
mod gate;
mod logs;
mod metrics;
mod pool_waits;
mod support;
mod traces;
