//! The fake bank end to end in Chromium: the real `refresco serve --connector <url>` (built-in
//! banks off) with Banco Falso's connector as its only bank, as an operator runs it;
//! `tests/browser/fakebank/fakebank.test.mjs` driving the widget (a link with the bank's SMS
//! code, a refresh whose code is typed in the widget after the bank's data changed); and the
//! webhooks of that refresh checked here, signatures included.
//!
//! Needs what tests/browser.rs needs (Debian's Chromium, tests/browser/node_modules) and the
//! connector venv; without them it prints `SKIPPED` and passes, except in CI.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::chromium;
use crate::common::receiver::{verify, Receiver};
use crate::process;
use crate::python::{repo, FakeBank, Venv};

const LIMIT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_bank_through_the_widget_in_chromium() {
    if !chromium::ready("fake bank browser test") || !Venv::Connectors.ready() {
        return;
    }
    let bank = FakeBank::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = process::spawn(
        dir.path(),
        "refresco",
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--connector",
            &bank.connector.url,
        ],
        &[
            ("REFRESCO_CONNECTOR_TOKEN", bank.token.clone()),
            ("REFRESCO_SANDBOX", "false".to_owned()),
            // The widget's refresh follows the link at once.
            ("REFRESCO_COOLDOWN_ONLY_LAST_SECS", "0".to_owned()),
        ],
    );
    let secret_key = server.secret_key();
    let public_key = std::fs::read_to_string(&server.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("public key: ").map(str::to_owned))
        .expect("first start prints the keys");

    let receiver = Receiver::start().await;
    let events = [
        "account.refresh_intent.movements_modified",
        "account.refresh_intent.movements_removed",
        "link.refresh_intent.succeeded",
    ];
    let endpoint: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/v1/webhook_endpoints", server.addr))
        .header("Authorization", &secret_key)
        .json(&json!({"url": receiver.url, "enabled_events": events}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = endpoint["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{endpoint}"))
        .to_owned();

    let artifacts = repo().join("ci-artifacts/browser/fakebank");
    let _ = std::fs::remove_dir_all(&artifacts);
    // The harness reads every server's variables: this suite has one server, so the second
    // points at it and the fixtures it does not use are marked so.
    let child = chromium::node_test(&artifacts)
        .arg("fakebank/fakebank.test.mjs")
        .env("FAKEBANK_URL", &bank.bank.url)
        .env("REFRESCO_URL", &server.addr)
        .env("REFRESCO_SK", &secret_key)
        .env("REFRESCO_PK", &public_key)
        .env("REFRESCO_SHORT_URL", &server.addr)
        .env("REFRESCO_SHORT_SK", &secret_key)
        .env("REFRESCO_SHORT_PK", &public_key)
        .env("REFRESCO_OTHER_ORG_PK", "unused")
        .env("REFRESCO_LIVE_PK", "unused")
        .env("REFRESCO_MARKUP_LINK_TOKEN", "unused")
        .env("REFRESCO_MARKUP_REFRESH_LINK_TOKEN", "unused")
        .env("REFRESCO_MARKUP", "unused")
        .spawn()
        .expect("node starts");
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("the fake bank browser test ended in time")
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "fake bank browser test failed; screenshots in {}:\n{text}\nconnector:\n{}",
        artifacts.display(),
        bank.connector.logs()
    );

    // The refresh's webhooks, signed: two accounts, each with a modified and a removed movement.
    let received = receiver
        .wait_for(|r| {
            r.iter()
                .any(|d| d.json()["type"] == "link.refresh_intent.succeeded")
        })
        .await;
    for delivery in &received {
        verify(delivery, &secret);
    }
    let count = |t: &str| received.iter().filter(|d| d.json()["type"] == t).count();
    let types: Vec<Value> = received.iter().map(|d| d.json()["type"].clone()).collect();
    assert_eq!(
        count("account.refresh_intent.movements_modified"),
        2,
        "{types:?}"
    );
    assert_eq!(
        count("account.refresh_intent.movements_removed"),
        2,
        "{types:?}"
    );
    assert!(!bank.connector.logs().contains("fakepass2"));
    let server_logs = std::fs::read_to_string(&server.stderr).unwrap();
    assert!(
        !server_logs.contains("fakepass2"),
        "the password is in Refresco's logs"
    );
    server.stop();
}
