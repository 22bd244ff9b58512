//! `refresco connector check`: it passes against the sandbox banks served over the protocol
//! (Chile without a second factor, Mexico with its SMS code, an app approval, small pages so
//! cursors are followed), in process and from the real binary; and against connectors broken
//! on purpose, one rule each, exactly the check of that rule fails.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use refresco::config::Secret;
use refresco::connectors::protocol::check::{self, CheckArgs, Report, Verdict};
use refresco::connectors::protocol::server;
use refresco::connectors::sandbox::{self, SandboxBank};
use refresco::connectors::{
    BankAccount, BankMovement, BankSession, Connector, ConnectorError, Credentials, DateWindow,
    FetchContext, Institution, LoginOutcome, MfaAnswer, MfaChallenge, Registry, Source,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "check-token";
const CHILE: (&str, &str) = ("cl_banco_sandbox", "41614850-3");
const MEXICO: (&str, &str) = ("mx_banco_sandbox", "SAND800101AB1");
/// Small enough that every 90-day fetch takes many pages.
const SMALL_PAGES: usize = 5;

fn args(url: &str, (institution, username): (&str, &str), password: &str) -> CheckArgs {
    CheckArgs {
        url: url.to_owned(),
        institution: institution.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
        mfa_code: None,
        holder_type: "individual".to_owned(),
        token: TOKEN.to_owned(),
    }
}

/// Serves `router` on a free port for the rest of the test.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

fn sandbox_router(page_size: usize) -> Router {
    server::router(
        Registry::sandbox(Default::default()),
        Secret::new(TOKEN),
        page_size,
    )
}

fn assert_all_pass(report: &Report) {
    assert!(report.passed(), "{report}");
    let judged: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| o.verdict != Verdict::Pass)
        .map(|o| o.check.as_str())
        .collect();
    assert!(judged.is_empty(), "not all passed: {judged:?}\n{report}");
}

/// Exactly `check` failed, and its detail says `seen`.
fn assert_only_fails(report: &Report, check: &str, seen: &str) {
    assert_eq!(report.failed(), [check], "{report}");
    assert!(!report.passed());
    let detail = &report.outcome(check).unwrap().detail;
    assert!(detail.contains(seen), "{check}: {detail:?} lacks {seen:?}");
}

async fn run_binary(url: &str, extra: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_refresco"))
        .args(["connector", "check", url, "--institution", CHILE.0])
        .args(["--username", CHILE.1, "--token", TOKEN])
        .args(extra)
        .env("REFRESCO_CHECK_PASSWORD", sandbox::PASSWORD)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .await
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chile_passes_in_process_and_from_the_binary() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let served = tokio::spawn(server::serve(
        listener,
        Registry::sandbox(Default::default()),
        Secret::new(TOKEN),
        SMALL_PAGES,
        stop.clone(),
    ));

    let report = check::run(&args(&url, CHILE, sandbox::PASSWORD)).await;
    assert_all_pass(&report);
    assert_eq!(report.outcomes.len(), 19, "{report}");
    let mfa = report.outcome("login.second_factor").unwrap();
    assert_eq!(mfa.detail, "none asked");

    let (ok, out, err) = run_binary(&url, &[]).await;
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("pass  movements.cursors_end"), "{out}");
    assert!(out.contains("19 passed, 0 failed, 0 skipped"), "{out}");
    assert!(!out.contains(sandbox::PASSWORD) && !err.contains(sandbox::PASSWORD));

    stop.cancel();
    served.await.unwrap().unwrap();
}

/// Counts the `POST /movements` that follow a cursor, to show pages were followed.
fn counting_cursors(router: Router, pages: Arc<AtomicUsize>) -> Router {
    rewriting(router, move |path, asked, status, answer| {
        if path == "/movements" && asked["cursor"].is_string() {
            pages.fetch_add(1, Ordering::SeqCst);
        }
        (status, Json(answer)).into_response()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mexico_passes_with_its_sms_code_over_small_pages() {
    let followed = Arc::new(AtomicUsize::new(0));
    let url = serve(counting_cursors(
        sandbox_router(SMALL_PAGES),
        followed.clone(),
    ))
    .await;
    let mut args = args(&url, MEXICO, sandbox::PASSWORD);
    args.mfa_code = Some(sandbox::MFA_CODE.to_owned());
    let report = check::run(&args).await;
    assert_all_pass(&report);
    let mfa = report.outcome("login.second_factor").unwrap();
    assert_eq!(mfa.detail, "answered the sms challenge");
    // 90 days of 1 to 3 movements a day, 5 a page: dozens of pages an account and fetch.
    assert!(followed.load(Ordering::SeqCst) > 100, "{followed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_approval_needs_no_code() {
    let url = serve(sandbox_router(server::DEFAULT_PAGE_SIZE)).await;
    let report = check::run(&args(&url, CHILE, "jonsnow+mfa_app")).await;
    assert_all_pass(&report);
    let mfa = report.outcome("login.second_factor").unwrap();
    assert_eq!(mfa.detail, "answered the app challenge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_asked_for_without_mfa_code_fails_clearly() {
    let url = serve(sandbox_router(server::DEFAULT_PAGE_SIZE)).await;
    let report = check::run(&args(&url, MEXICO, sandbox::PASSWORD)).await;
    assert_only_fails(&report, "login.second_factor", "--mfa-code");
    let accounts = report.outcome("accounts").unwrap();
    assert_eq!(accounts.verdict, Verdict::Skip, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_that_is_down_fails_clearly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let report = check::run(&args(&url, CHILE, sandbox::PASSWORD)).await;
    assert_only_fails(&report, "manifest.answers", "got no answer");
    assert!(report
        .outcomes
        .iter()
        .skip(1)
        .all(|o| o.verdict == Verdict::Skip));

    let (ok, out, err) = run_binary(&url, &[]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL  manifest.answers"), "{out}");
    assert!(err.contains("does not follow the protocol"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

mod broken;
mod rewritten;

use rewritten::rewriting;
