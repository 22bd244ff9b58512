//! The official Fintoc clients, unmodified, against the real server; and a schemathesis fuzz
//! pass over the OpenAPI document.
//!
//! - `tests/clients/python/test_official_client.py` drives `fintoc` 2.26.0 (Python) and
//!   `tests/clients/node/test_official_client.js` drives `fintoc` 1.15.0 (Node). Each runs as
//!   a subprocess against a server on 127.0.0.1:0, on both backends, and compares what the client
//!   sees with raw HTTP answers of the same server.
//! - schemathesis (from the same Python environment) fuzzes every operation of
//!   `/v1/openapi.json` on both backends with every check (`--checks all`): no 5xx, every
//!   answer described by the document, well-formed requests accepted and malformed ones
//!   refused; with real ids for links, accounts, movements, refresh intents, endpoints and
//!   events.
//!
//! The tools come from `.venv-test/` (Python) and `tests/clients/node/node_modules/`, both made
//! by `scripts/test`. When they are missing the tests print `SKIPPED` and pass, except in CI
//! (`CI` set, not `false`), where they fail.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod fuzz;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::receiver;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::process::Command;

/// How long one client script may run (each takes a few seconds).
const CLIENT_LIMIT: Duration = Duration::from_secs(180);
/// How long one schemathesis run may take (the longer one takes about two minutes).
const FUZZ_LIMIT: Duration = Duration::from_secs(420);
/// Examples per operation in the run without DELETE: as many as keep one backend's fuzz
/// within about two minutes on a 2-core machine.
const FUZZ_EXAMPLES: u32 = 30;
/// Examples per operation in the DELETE run (two operations).
const FUZZ_DELETE_EXAMPLES: u32 = 20;
/// Fixed so that a failing run can be replayed exactly.
const FUZZ_SEED: &str = "20261123";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// True when `tool` is usable; otherwise fails in CI, or prints SKIPPED and returns false.
fn require(test: &str, tool: &str, present: bool) -> bool {
    if present {
        return true;
    }
    let hint = "run scripts/test, which installs it";
    if in_ci() {
        panic!("{test}: {tool} is missing ({hint}); CI must not skip this test");
    }
    // Straight to the process's stderr: libtest captures `eprintln!`, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {tool} is missing ({hint})"
    );
    false
}

fn venv_bin(name: &str) -> PathBuf {
    repo().join(".venv-test/bin").join(name)
}

fn node_dir() -> PathBuf {
    repo().join("tests/clients/node")
}

fn node_available() -> bool {
    std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A command with proxies switched off: everything it talks to is on 127.0.0.1.
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(name);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` to completion within `limit`; panics with its whole output when it fails.
async fn run(mut cmd: Command, what: &str, limit: Duration) -> String {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("{what}: waiting failed: {e}")),
        Err(_) => panic!("{what}: still running after {limit:?}; killed"),
    };
    let text = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what} failed ({}) after {:.1?}:\n{text}",
        output.status,
        started.elapsed()
    );
    println!("{what} passed in {:.1?}:\n{text}", started.elapsed());
    text
}

/// Three links of "acme": the one the scripts read and update (with an account holding over
/// 60 confirmed movements), one they delete, and one more so that lists span three pages of one.
async fn client_env(app: &TestApp) -> Vec<(&'static str, String)> {
    let (_, link_token) = app.create_link("41614850-3").await;
    let (_, delete_token) = app.create_link("40427672-7").await;
    app.create_link("41579263-8").await;
    vec![
        ("FINTOC_BASE_URL", app.base.clone()),
        ("FINTOC_SECRET_KEY", app.keys.secret_key.clone()),
        ("FINTOC_LINK_TOKEN", link_token),
        ("FINTOC_DELETE_LINK_TOKEN", delete_token),
    ]
}

both_backends! {
    async fn python_official_client(app: TestApp) {
        let test = format!("python_official_client ({:?})", app.backend);
        let python = venv_bin("python");
        if !require(&test, ".venv-test (Python with fintoc 2.26.0)", python.exists()) {
            return;
        }
        let mut cmd = command(&python);
        cmd.arg(repo().join("tests/clients/python/test_official_client.py"))
            .envs(client_env(&app).await);
        let out = run(cmd, &test, CLIENT_LIMIT).await;
        assert!(out.contains(" passed, 0 failed"), "the script reported its checks:\n{out}");
    }

    async fn node_official_client(app: TestApp) {
        let test = format!("node_official_client ({:?})", app.backend);
        let installed = node_dir().join("node_modules/fintoc/package.json").exists();
        if !require(&test, "node", node_available())
            || !require(&test, "tests/clients/node/node_modules (fintoc 1.15.0)", installed)
        {
            return;
        }
        let mut cmd = command("node");
        cmd.arg(node_dir().join("test_official_client.js"))
            .current_dir(node_dir())
            .envs(client_env(&app).await);
        let out = run(cmd, &test, CLIENT_LIMIT).await;
        assert!(out.contains(" passed, 0 failed"), "the script reported its checks:\n{out}");
    }
}

/// A server without cooldown, a new link whose bank takes 300 ms a call (a refresh stays in
/// progress for about a second; its first history may still run), and one real signed
/// delivery captured by a receiver.
async fn refresh_and_webhook_env(
    backend: Backend,
    dir: &Path,
) -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::start_with(backend, |c| {
        c.cooldown_only_last_secs = 0;
        c.cooldown_historical_secs = 0;
        c.worker_poll_ms = 20;
    })
    .await
    .expect("app");
    let receiver = receiver::Receiver::start().await;
    let response = app
        .request(
            reqwest::Method::POST,
            "/v1/webhook_endpoints",
            Some(&app.keys.secret_key),
            Some(serde_json::json!({"url": receiver.url, "enabled_events": ["*"]})),
        )
        .await;
    let (status, endpoint) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    let response = app
        .request(
            reqwest::Method::POST,
            "/v1/events/trigger",
            Some(&app.keys.secret_key),
            Some(serde_json::json!({"type": "account.refresh_intent.succeeded"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let delivery = receiver.wait_for(|r| !r.is_empty()).await.remove(0);
    let body_file = dir.join("delivery.json");
    std::fs::write(&body_file, &delivery.body).unwrap();
    // Created here and handed over at once: the client waits for its first history itself.
    let response = app
        .request(
            reqwest::Method::POST,
            "/v1/links",
            Some(&app.keys.secret_key),
            Some(serde_json::json!({"institution_id": "cl_banco_sandbox",
                "username": "41614850-3", "password": "jonsnow+instant+slow300ms"})),
        )
        .await;
    let (status, link) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let link_token = link["link_token"].as_str().unwrap().to_owned();
    // A link whose next refresh the bank rejects, for the reconnection checks.
    let (_, rejected_token) = app
        .create_link_with(
            &app.keys.secret_key,
            "cl_banco_sandbox",
            "40427672-7",
            "jonsnow+invalid@1",
        )
        .await;
    let env = vec![
        ("FINTOC_REJECTED_LINK_TOKEN", rejected_token),
        ("FINTOC_BASE_URL", app.base.clone()),
        ("FINTOC_SECRET_KEY", app.keys.secret_key.clone()),
        ("FINTOC_LINK_TOKEN", link_token),
        (
            "FINTOC_WEBHOOK_BODY_FILE",
            body_file.to_string_lossy().into_owned(),
        ),
        (
            "FINTOC_WEBHOOK_HEADER",
            delivery.headers["fintoc-signature"]
                .to_str()
                .unwrap()
                .to_owned(),
        ),
        (
            "FINTOC_WEBHOOK_SECRET",
            endpoint["secret"].as_str().unwrap().to_owned(),
        ),
    ];
    (app, env)
}

/// The clients on refresh intents and on real webhook deliveries.
mod refresh_and_webhooks {
    use super::*;

    both_backends! {
        async fn python_refresh_intents_and_webhook_signatures(app: TestApp) {
            let test = format!("python_refresh_intents_and_webhook_signatures ({:?})", app.backend);
            let python = venv_bin("python");
            if !require(&test, ".venv-test (Python with fintoc 2.26.0)", python.exists()) {
                return;
            }
            let dir = tempfile::tempdir().unwrap();
            let (_app, env) = refresh_and_webhook_env(app.backend, dir.path()).await;
            let mut cmd = command(&python);
            cmd.arg(repo().join("tests/clients/python/test_refresh_and_webhooks.py")).envs(env);
            let out = run(cmd, &test, CLIENT_LIMIT).await;
            assert!(out.contains(" passed, 0 failed"), "{out}");
        }

        async fn node_refresh_intents_and_webhook_signatures(app: TestApp) {
            let test = format!("node_refresh_intents_and_webhook_signatures ({:?})", app.backend);
            let installed = node_dir().join("node_modules/fintoc/package.json").exists();
            if !require(&test, "node", node_available())
                || !require(&test, "tests/clients/node/node_modules (fintoc 1.15.0)", installed)
            {
                return;
            }
            let dir = tempfile::tempdir().unwrap();
            let (_app, env) = refresh_and_webhook_env(app.backend, dir.path()).await;
            let mut cmd = command("node");
            cmd.arg(node_dir().join("test_refresh_and_webhooks.js")).current_dir(node_dir()).envs(env);
            let out = run(cmd, &test, CLIENT_LIMIT).await;
            assert!(out.contains(" passed, 0 failed"), "{out}");
        }
    }
}
