//! The widget's HTTP side without a browser: link intents, the widget's login and second
//! factor, the exchange, bad tokens and keys, and the served pages. The real server on port 0,
//! every test on both backends (the pages test on one: it touches no database).
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod exchange;
mod flow;
mod pages;
mod reconnect;
mod support;
mod tokens;
