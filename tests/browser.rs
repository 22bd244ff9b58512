//! The widget and the demo page end to end, in headless Chromium.
//!
//! Each backend gets a real server on port 0 (plus a second one whose link intents and second
//! factors expire after 2 seconds, and a third with an operator token for the dashboard's
//! test), a few fixtures (another organization's and the live mode's
//! public keys, a link whose bank and account names hold markup), and then the Node test files
//! in `tests/browser/` (`*.test.mjs`, driving Debian's `/usr/bin/chromium` with playwright-core)
//! run against them. A failing browser test leaves a screenshot and the console in
//! `ci-artifacts/browser/<backend>/`.
//!
//! Without Chromium or `tests/browser/node_modules` (made by `scripts/test` with `npm ci`), the
//! test prints `SKIPPED` and passes, except in CI (`CI` set, not `false`), where it fails.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "common/mod.rs"]
mod common;
#[path = "browser/dashboard_fixture.rs"]
mod dashboard_fixture;

use std::path::Path;
use std::time::{Duration, Instant};

use common::chromium;
use common::database::database_url;
use common::*;
use refresco::domain::Mode;
use sqlx::Connection;

/// How long the whole browser suite may run on one backend (it takes well under a minute).
const SUITE_LIMIT: Duration = Duration::from_secs(480);

/// What the markup fixture's bank, accounts and movements are called.
const MARKUP: &str = "<img src=x onerror=\"window.__xss=1\">Banco <b>Markup</b>";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A link whose bank name, account names and movement descriptions are markup, as a hostile
/// or broken bank could send them (the sandbox never does, so the rows are edited).
async fn markup_link(app: &TestApp) -> String {
    let (link, token) = app.create_link_with_mfa("jonsnow+mfa_sms", "123456").await;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&database_url(app))
        .await
        .unwrap();
    let id = link["id"].as_str().unwrap();
    for sql in [
        "UPDATE links SET institution_name = $1 WHERE id = $2",
        "UPDATE accounts SET name = $1 WHERE link_id = $2",
        "UPDATE movements SET description = $1
         WHERE account_id IN (SELECT id FROM accounts WHERE link_id = $2)",
    ] {
        sqlx::query(sql)
            .bind(MARKUP)
            .bind(id)
            .execute(&mut db)
            .await
            .unwrap();
    }
    db.close().await.unwrap();
    token
}

fn test_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("tests/browser"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no browser test files");
    files
}

async fn run_suite(app: TestApp) {
    if !chromium::ready("browser tests") {
        return;
    }
    let short = TestApp::start_with(app.backend, |c| {
        c.link_intent_ttl_secs = 2;
        c.mfa_timeout_secs = 2;
    })
    .await
    .expect("second server");
    let other = app.key_pair("globex", Mode::Test).await;
    let live = app.key_pair("acme", Mode::Live).await;
    // Two: a refresh rewrites the names from the bank, so the widget's test refreshes its own.
    let markup_token = markup_link(&app).await;
    let markup_refresh_token = markup_link(&app).await;
    let (operator, _receiver, holder) = dashboard_fixture::server(app.backend).await;
    let backend = format!("{:?}", app.backend).to_lowercase();
    let artifacts = repo().join("ci-artifacts/browser").join(&backend);
    let _ = std::fs::remove_dir_all(&artifacts);

    let mut command = chromium::node_test(&artifacts);
    command
        .args(test_files())
        .env("REFRESCO_URL", &app.base)
        .env("REFRESCO_SK", &app.keys.secret_key)
        .env("REFRESCO_PK", &app.keys.public_key)
        .env("REFRESCO_SHORT_URL", &short.base)
        .env("REFRESCO_SHORT_SK", &short.keys.secret_key)
        .env("REFRESCO_SHORT_PK", &short.keys.public_key)
        .env("REFRESCO_OTHER_ORG_PK", &other.public_key)
        .env("REFRESCO_LIVE_PK", &live.public_key)
        .env("REFRESCO_MARKUP_LINK_TOKEN", &markup_token)
        .env("REFRESCO_MARKUP_REFRESH_LINK_TOKEN", &markup_refresh_token)
        .env("REFRESCO_MARKUP", MARKUP)
        .env("REFRESCO_OPS_URL", &operator.base)
        .env("REFRESCO_OPERATOR_TOKEN", dashboard_fixture::OPERATOR_TOKEN)
        .env("REFRESCO_OPS_HOLDER", &holder);
    let started = Instant::now();
    let child = command.spawn().expect("node starts");
    let output = tokio::time::timeout(SUITE_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("browser tests ({backend}) still running after {SUITE_LIMIT:?}"))
        .expect("node finished");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "browser tests ({backend}) failed after {:.1?}; screenshots in {}:\n{text}",
        started.elapsed(),
        artifacts.display()
    );
    println!(
        "browser tests ({backend}) passed in {:.1?}:\n{text}",
        started.elapsed()
    );
    short.stop().await;
    operator.stop().await;
    app.stop().await;
}

both_backends! {
    async fn widget_and_demo_in_chromium(app: TestApp) {
        run_suite(app).await;
    }
}
