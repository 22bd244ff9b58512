//! `refresco connector check`, the real binary as a connector author runs it, against the
//! fake bank's connector and the woob bridge: everything passes, nothing is skipped; and with
//! the bank's pages redesigned, the same check fails.

use std::process::{Command, Output};

use crate::python::{FakeBank, Venv, INSTITUTION, SMS_CODE, SMS_USER, WOOB_INSTITUTION};

fn check(bank: &FakeBank, institution: &str, (user, password): (&str, &str)) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_refresco"))
        .args(["connector", "check", &bank.connector.url])
        .args(["--institution", institution, "--username", user])
        .args(["--mfa-code", SMS_CODE])
        // By the environment, as --help suggests: not in the process list.
        .env("REFRESCO_CONNECTOR_TOKEN", &bank.token)
        .env("REFRESCO_CHECK_PASSWORD", password)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

fn assert_all_pass(bank: &FakeBank, institution: &str, user: (&str, &str)) {
    let (output, report) = check(bank, institution, user);
    assert!(output.status.success(), "the check failed:\n{report}");
    assert!(report.contains(" 0 failed, 0 skipped"), "{report}");
    assert!(
        report.contains("answered the sms challenge"),
        "the SMS code was asked and answered:\n{report}"
    );
    let logs = bank.connector.logs();
    assert!(logs.contains("POST /movements -> 200"), "{logs}");
    assert!(
        !logs.contains(user.1),
        "the password is in the connector's logs:\n{logs}"
    );
}

#[test]
fn the_fake_bank_connector_passes_the_check() {
    if !Venv::Connectors.ready() {
        return;
    }
    let bank = FakeBank::start();
    assert_all_pass(&bank, INSTITUTION, SMS_USER);
}

#[test]
fn the_woob_bridge_passes_the_check() {
    if !Venv::Connectors.ready() || !Venv::Woob.ready() {
        return;
    }
    let bank = FakeBank::start_woob();
    assert_all_pass(&bank, WOOB_INSTITUTION, SMS_USER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_fails_when_the_bank_redesigns_its_pages() {
    if !Venv::Connectors.ready() {
        return;
    }
    let bank = FakeBank::start();
    bank.control("faults", serde_json::json!({"layout": "v2"}))
        .await;
    let (output, report) =
        tokio::task::spawn_blocking(move || (check(&bank, INSTITUTION, SMS_USER), bank))
            .await
            .unwrap()
            .0;
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("FAIL  accounts"), "{report}");
}
