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

// Connectors broken on purpose. Data rules: a `Connector` around the Chilean sandbox bank,
// served by the protocol's own server. Wire rules: a layer rewriting the JSON answers.

#[derive(Clone, Copy)]
enum Breakage {
    DuplicateAccounts,
    DuplicateMovements,
    OutsideWindow,
    ForeignCurrency,
    OldestFirst,
    ShortWindowOwnIds,
    PasswordInSession,
}

struct Broken {
    bank: SandboxBank,
    breakage: Breakage,
}

#[async_trait]
impl Connector for Broken {
    fn institution(&self) -> &Institution {
        self.bank.institution()
    }

    async fn login(&self, creds: &Credentials) -> Result<LoginOutcome, ConnectorError> {
        let outcome = self.bank.login(creds).await?;
        Ok(match (self.breakage, outcome) {
            // The sandbox reads its own fields of the session and ignores the rest.
            (Breakage::PasswordInSession, LoginOutcome::LoggedIn(mut session)) => {
                session.0["password"] = json!(creds.password);
                LoginOutcome::LoggedIn(session)
            }
            (_, outcome) => outcome,
        })
    }

    async fn answer_mfa(
        &self,
        challenge: &MfaChallenge,
        answer: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError> {
        self.bank.answer_mfa(challenge, answer).await
    }

    async fn list_accounts(
        &self,
        session: &mut BankSession,
        ctx: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError> {
        let mut accounts = self.bank.list_accounts(session, ctx).await?;
        if let Breakage::DuplicateAccounts = self.breakage {
            accounts[1].bank_id = accounts[0].bank_id.clone();
        }
        Ok(accounts)
    }

    async fn fetch_movements(
        &self,
        session: &mut BankSession,
        account: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        let mut movements = self
            .bank
            .fetch_movements(session, account, window, ctx)
            .await?;
        match self.breakage {
            Breakage::DuplicateMovements => movements[1].bank_id = movements[0].bank_id.clone(),
            // The oldest movement, a day too old: the order and its id stay as they were.
            Breakage::OutsideWindow => {
                movements.last_mut().unwrap().post_date = window.since.pred_opt().unwrap();
            }
            Breakage::ForeignCurrency => movements[0].currency = "USD".into(),
            Breakage::OldestFirst => movements.reverse(),
            // The same every time, so only the comparison with the longer window sees it.
            Breakage::ShortWindowOwnIds if (window.until - window.since).num_days() < 30 => {
                movements[0].bank_id.push_str("-short");
            }
            Breakage::ShortWindowOwnIds => {}
            Breakage::DuplicateAccounts | Breakage::PasswordInSession => {}
        }
        Ok(movements)
    }
}

async fn check_broken(breakage: Breakage) -> Report {
    let registry = Registry::new();
    let bank = sandbox::chile(Default::default());
    registry
        .register(Arc::new(Broken { bank, breakage }), Source::Sandbox)
        .unwrap();
    let url = serve(server::router(registry, Secret::new(TOKEN), 20)).await;
    check::run(&args(&url, CHILE, sandbox::PASSWORD)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_account_ids_fail() {
    let report = check_broken(Breakage::DuplicateAccounts).await;
    assert_only_fails(&report, "accounts", "used by two accounts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_movement_ids_fail() {
    let report = check_broken(Breakage::DuplicateMovements).await;
    assert_only_fails(&report, "movements.unique_ids", "comes more than once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_date_outside_the_window_fails() {
    let report = check_broken(Breakage::OutsideWindow).await;
    assert_only_fails(&report, "movements.in_window", "outside");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_movement_in_another_currency_fails() {
    let report = check_broken(Breakage::ForeignCurrency).await;
    assert_only_fails(&report, "movements.currency", "\"USD\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oldest_first_fails() {
    let report = check_broken(Breakage::OldestFirst).await;
    assert_only_fails(&report, "movements.newest_first", "comes before the newer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_window_with_its_own_ids_fails() {
    let report = check_broken(Breakage::ShortWindowOwnIds).await;
    assert_only_fails(&report, "movements.window_subset", "-short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_in_an_answer_fails() {
    let report = check_broken(Breakage::PasswordInSession).await;
    assert_only_fails(&report, "credentials.not_echoed", "POST /login");
}

/// `router` behind a layer that hands `rewrite` each exchange: the path, the request's JSON
/// (null for none), and the answer's status and JSON; what it returns is sent instead.
fn rewriting<F>(router: Router, rewrite: F) -> Router
where
    F: Fn(&str, &Value, StatusCode, Value) -> Response + Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let rewrite = rewrite.clone();
            async move {
                let path = request.uri().path().to_owned();
                let (parts, body) = request.into_parts();
                let body = to_bytes(body, usize::MAX).await.unwrap();
                let asked = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let answer = next.run(Request::from_parts(parts, Body::from(body))).await;
                let status = answer.status();
                let body = to_bytes(answer.into_body(), usize::MAX).await.unwrap();
                rewrite(
                    &path,
                    &asked,
                    status,
                    serde_json::from_slice(&body).unwrap(),
                )
            }
        },
    ))
}

async fn check_rewritten<F>(rewrite: F) -> Report
where
    F: Fn(&str, &Value, StatusCode, Value) -> Response + Clone + Send + Sync + 'static,
{
    let url = serve(rewriting(sandbox_router(20), rewrite)).await;
    check::run(&args(&url, CHILE, sandbox::PASSWORD)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_protocol_version_fails() {
    let report = check_rewritten(|path, _, status, mut answer| {
        if path == "/manifest" {
            answer["protocol"] = json!(2);
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "manifest.protocol", "\"protocol\" is 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_float_amount_fails() {
    let report = check_rewritten(|path, _, status, mut answer| {
        if path == "/movements" && status.is_success() {
            let amount = answer["movements"][0]["amount"].as_i64().unwrap();
            answer["movements"][0]["amount"] = json!(amount as f64 + 0.5);
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.integer_amounts", ".5, not an integer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_never_ends_fails() {
    // The server reads "0" as the first page again, so this loops on page one.
    let report = check_rewritten(|path, _, status, mut answer| {
        if path == "/movements" && status.is_success() {
            answer["next_cursor"] = json!("0");
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.cursors_end", "already given");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_ids_that_change_between_fetches_fail() {
    // From the second fetch of an account's window on (a fetch starts without a cursor), every
    // bank id gets a suffix.
    let fetches: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let report = check_rewritten(move |path, asked, status, mut answer| {
        if path == "/movements" && status.is_success() {
            let key = format!("{} {}", asked["account"]["bank_id"], asked["window"]);
            let mut fetches = fetches.lock().unwrap();
            let nth = fetches.entry(key).or_default();
            if asked["cursor"].is_null() {
                *nth += 1;
            }
            if *nth > 1 {
                for movement in answer["movements"].as_array_mut().unwrap() {
                    let id = format!("{}-again", movement["bank_id"].as_str().unwrap());
                    movement["bank_id"] = json!(id);
                }
            }
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.stable_ids", "-again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_error_for_a_wrong_password_fails() {
    let report = check_rewritten(|path, _, status, answer| {
        if path == "/login" && !status.is_success() {
            let html = "<html><body><h1>500 Internal Server Error</h1></body></html>";
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                html,
            )
                .into_response();
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "errors.invalid_credentials", "not JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_movement_that_changes_between_two_reads_fails() {
    // The second fetch of each window keeps every bank id but changes one amount.
    let fetches: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let report = check_rewritten(move |path, asked, status, mut answer| {
        if path == "/movements" && status.is_success() {
            let key = format!("{} {}", asked["account"]["bank_id"], asked["window"]);
            let mut fetches = fetches.lock().unwrap();
            let nth = fetches.entry(key).or_default();
            if asked["cursor"].is_null() {
                *nth += 1;
            }
            if *nth > 1 && asked["cursor"].is_null() {
                if let Some(first) = answer["movements"].get_mut(0) {
                    let amount = first["amount"].as_i64().unwrap();
                    first["amount"] = json!(amount + 1);
                }
            }
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.stable_ids", "changed between two reads");
}

/// The check's wrong login answered with `error` changed by `edit`.
async fn check_with_wrong_login_error(edit: fn(&mut Value)) -> Report {
    check_rewritten(move |path, _, status, mut answer| {
        if path == "/login" && !status.is_success() {
            edit(&mut answer["error"]);
        }
        (status, Json(answer)).into_response()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_of_the_wrong_class_fails() {
    let report = check_with_wrong_login_error(|error| error["class"] = json!("transient")).await;
    assert_only_fails(&report, "errors.classes", "of class person, not transient");
    let report = check_with_wrong_login_error(|error| error["class"] = json!("cosmic")).await;
    assert_only_fails(&report, "errors.classes", "\"cosmic\" is not a class");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_of_its_own_needs_a_class() {
    // Without a class, a code the protocol does not list fails; with one, only the wrong
    // login's own check (it is not invalid_credentials) does.
    let report = check_with_wrong_login_error(|error| {
        error["code"] = json!("terms_changed");
        error.as_object_mut().unwrap().remove("class");
    })
    .await;
    assert_eq!(
        report.failed(),
        ["errors.invalid_credentials", "errors.classes"],
        "{report}"
    );
    let detail = &report.outcome("errors.classes").unwrap().detail;
    assert!(
        detail.contains("\"terms_changed\" is not the protocol's and has no class"),
        "{detail}"
    );
    let report = check_with_wrong_login_error(|error| {
        error["code"] = json!("terms_changed");
        error["class"] = json!("person");
    })
    .await;
    assert_eq!(report.failed(), ["errors.invalid_credentials"], "{report}");
}
