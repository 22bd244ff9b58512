//! Scenario tests through the `Connector` trait, as the engine drives it.

use std::time::Duration;

use chrono::NaiveDate;

use crate::connectors::sandbox::{chile, mexico, SandboxBank, SandboxConfig, MFA_CODE};
use crate::connectors::{
    BankSession, Connector, ConnectorError, Credentials, DateWindow, FetchContext, HolderType,
    LoginOutcome, MfaAnswer, MfaChallenge, MfaKind,
};

pub(super) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 18).unwrap()
}

pub(super) fn ctx(refresh_number: u32) -> FetchContext {
    FetchContext {
        today: today(),
        refresh_number,
    }
}

pub(super) fn creds(username: &str, password: &str, holder_type: HolderType) -> Credentials {
    Credentials {
        username: username.into(),
        password: password.into(),
        holder_type,
    }
}

pub(super) fn person(username: &str, password: &str) -> Credentials {
    creds(username, password, HolderType::Individual)
}

fn cl() -> SandboxBank {
    chile(SandboxConfig::default())
}

fn mx() -> SandboxBank {
    mexico(SandboxConfig::default())
}

async fn login_err(bank: &SandboxBank, creds: &Credentials) -> ConnectorError {
    bank.login(creds).await.expect_err("login should fail")
}

async fn challenge(bank: &SandboxBank, creds: &Credentials) -> MfaChallenge {
    match bank.login(creds).await.unwrap() {
        LoginOutcome::MfaRequired(challenge) => challenge,
        LoginOutcome::LoggedIn(_) => panic!("expected a second factor"),
    }
}

async fn logged_in(bank: &SandboxBank, creds: &Credentials) -> BankSession {
    match bank.login(creds).await.unwrap() {
        LoginOutcome::LoggedIn(session) => session,
        LoginOutcome::MfaRequired(_) => panic!("expected no second factor"),
    }
}

fn code(value: &str) -> MfaAnswer {
    MfaAnswer::Code(value.into())
}

#[tokio::test]
async fn fintoc_test_users_log_in_without_mfa() {
    let bank = cl();
    for user in ["41614850-3", "40.427.672-7", "415792638"] {
        let session = logged_in(&bank, &person(user, "jonsnow")).await;
        let accounts = bank
            .list_accounts(&mut (session).clone(), &ctx(0))
            .await
            .unwrap();
        assert!(accounts.len() >= 2);
        assert!(!accounts[0].holder_id.contains(['.', '-']));
    }
    let accounts = bank
        .list_accounts(
            &mut logged_in(&bank, &person("41614850-3", "jonsnow")).await,
            &ctx(0),
        )
        .await
        .unwrap();
    assert_eq!(accounts[0].holder_id, "416148503");
    assert_eq!(
        (accounts[0].name.as_str(), accounts[0].account_type.as_str()),
        ("Cuenta Corriente", "checking_account")
    );
    assert_eq!(
        (accounts[1].name.as_str(), accounts[1].account_type.as_str()),
        ("Línea de Crédito", "line_of_credit")
    );
    for business in ["76.000.006-K", "76000006-k", "77123456-9"] {
        let session = logged_in(&bank, &creds(business, "jonsnow", HolderType::Business)).await;
        let accounts = bank
            .list_accounts(&mut (session).clone(), &ctx(0))
            .await
            .unwrap();
        let name = &accounts[0].holder_name;
        assert!(
            name.ends_with("SpA") || name.ends_with("Ltda.") || name.ends_with("S.A."),
            "{name}"
        );
    }
}

#[tokio::test]
async fn anything_else_is_invalid_credentials() {
    let bank = cl();
    let cases = [
        person("41614850-3", "wrong"),
        person("41614850-3", "jonsnow+nonsense"),
        person("41614850-4", "jonsnow"),   // wrong check digit
        person("12.345.678-5", "jonsnow"), // valid RUT, not a test user
        person("not a rut", "jonsnow"),
        person("76000006-K", "jonsnow"), // a company as a person
        creds("41614850-3", "jonsnow", HolderType::Business),
        creds("45.000.000-0", "jonsnow", HolderType::Business), // not above 45.000.000
        person("41614850-3", "jonsnow+invalid"),
    ];
    for case in &cases {
        assert_eq!(
            login_err(&bank, case).await,
            ConnectorError::InvalidCredentials,
            "{case:?}"
        );
    }
    let bank = mx();
    for case in [
        person("SAND800101AB1", "wrong"),
        person("GOMA800101AB1", "jonsnow"), // a real-looking RFC outside the sandbox
        person("SAN990401XY9", "jonsnow"),  // a company RFC as a person
        creds("SAND800101AB1", "jonsnow", HolderType::Business),
        person("SAND801301AB1", "jonsnow"), // no 13th month
    ] {
        assert_eq!(
            login_err(&bank, &case).await,
            ConnectorError::InvalidCredentials,
            "{case:?}"
        );
    }
}

#[tokio::test]
async fn sms_code_mfa_accepts_only_the_magic_code() {
    for (bank, user, prefix) in [
        (cl(), "41614850-3", "+56 9"),
        (mx(), "SAND800101AB1", "+52 55"),
    ] {
        let challenge = challenge(&bank, &person(user, "jonsnow+mfa_sms")).await;
        assert_eq!(challenge.kind, MfaKind::Sms);
        assert!(challenge.hint.as_deref().unwrap().contains(prefix));
        // Half-logged-in sessions cannot read data.
        let early = bank
            .list_accounts(&mut (challenge.session).clone(), &ctx(0))
            .await;
        assert!(matches!(early, Err(ConnectorError::SessionExpired { .. })));
        for wrong in [code("000000"), code(""), MfaAnswer::Approved] {
            let err = bank.answer_mfa(&challenge, &wrong).await.unwrap_err();
            assert_eq!(
                err,
                ConnectorError::WrongMfaCode {
                    attempts_left: None
                }
            );
        }
        // A wrong code leaves the challenge answerable.
        let session = bank.answer_mfa(&challenge, &code(MFA_CODE)).await.unwrap();
        assert!(!bank
            .list_accounts(&mut (session).clone(), &ctx(0))
            .await
            .unwrap()
            .is_empty());
        // A logged-in session is not a challenge.
        let reuse = MfaChallenge {
            session,
            ..challenge
        };
        assert!(matches!(
            bank.answer_mfa(&reuse, &code(MFA_CODE)).await,
            Err(ConnectorError::SessionExpired { .. })
        ));
    }
}

#[tokio::test]
async fn device_and_app_mfa() {
    for bank in [cl(), mx()] {
        let user = if bank.institution().country == "cl" {
            "41614850-3"
        } else {
            "SAND800101AB1"
        };
        let device = challenge(&bank, &person(user, "jonsnow+mfa_device")).await;
        assert_eq!(device.kind, MfaKind::Device);
        assert!(bank.answer_mfa(&device, &code("654321")).await.is_err());
        assert!(bank.answer_mfa(&device, &code(" 123456 ")).await.is_ok());

        let app = challenge(&bank, &person(user, "jonsnow+mfa_app")).await;
        assert_eq!(app.kind, MfaKind::App);
        let typed = bank.answer_mfa(&app, &code(MFA_CODE)).await;
        assert!(matches!(typed, Err(ConnectorError::WrongMfaCode { .. })));
        let session = bank.answer_mfa(&app, &MfaAnswer::Approved).await.unwrap();
        assert!(bank
            .list_accounts(&mut (session).clone(), &ctx(0))
            .await
            .is_ok());
    }
}

#[tokio::test]
async fn mexico_always_asks_for_a_code_and_a_parked_challenge_resumes_elsewhere() {
    let company = creds("SAN990401XY9", "jonsnow", HolderType::Business);
    let business = challenge(&mx(), &company).await;
    assert_eq!(business.kind, MfaKind::Sms);
    let challenge = challenge(&mx(), &person("sand800101ab1", "jonsnow")).await;
    assert_eq!(challenge.kind, MfaKind::Sms);
    // Park it as JSON, resume it on another instance (another process, in production).
    let parked = serde_json::to_string(&challenge).unwrap();
    assert!(
        !parked.contains("jonsnow"),
        "the password must not be parked"
    );
    let resumed: MfaChallenge = serde_json::from_str(&parked).unwrap();
    let other = mexico(SandboxConfig::default());
    let session = other.answer_mfa(&resumed, &code(MFA_CODE)).await.unwrap();
    let accounts = other
        .list_accounts(&mut (session).clone(), &ctx(0))
        .await
        .unwrap();
    assert_eq!(accounts[0].holder_id, "SAND800101AB1");
    assert!(accounts.iter().all(|a| a.currency == "MXN"));
    // A Chilean session means nothing to the Mexican bank.
    let chilean = logged_in(&cl(), &person("41614850-3", "jonsnow")).await;
    assert!(matches!(
        other.list_accounts(&mut (chilean).clone(), &ctx(0)).await,
        Err(ConnectorError::SessionExpired { .. })
    ));
}

#[tokio::test]
async fn forced_failures_at_login() {
    for (bank, user) in [(cl(), "41614850-3"), (mx(), "SAND800101AB1")] {
        for (modifier, expected) in [
            ("locked", ConnectorError::CredentialsLocked),
            ("unavailable", ConnectorError::Unavailable),
            ("support", ConnectorError::SupportRequired),
        ] {
            let err = login_err(&bank, &person(user, &format!("jonsnow+{modifier}"))).await;
            assert_eq!(err, expected);
        }
    }
    assert_eq!(
        ConnectorError::CredentialsLocked.public_error(),
        "credentials_locked_error"
    );
}

#[tokio::test]
async fn forced_failures_from_a_refresh_on() {
    let bank = cl();
    let session = logged_in(&bank, &person("41614850-3", "jonsnow+locked@1")).await;
    let accounts = bank
        .list_accounts(&mut (session).clone(), &ctx(0))
        .await
        .unwrap();
    assert_eq!(
        bank.list_accounts(&mut (session).clone(), &ctx(1)).await,
        Err(ConnectorError::CredentialsLocked)
    );
    let window = DateWindow::last_days(today(), 30);
    let fetch = bank
        .fetch_movements(&mut (session).clone(), &accounts[0], window, &ctx(2))
        .await;
    assert_eq!(fetch, Err(ConnectorError::CredentialsLocked));

    let session = logged_in(
        &bank,
        &person("41614850-3", "jonsnow+unavailable@1+invalid@2"),
    )
    .await;
    assert_eq!(
        bank.list_accounts(&mut (session).clone(), &ctx(1)).await,
        Err(ConnectorError::Unavailable)
    );
    assert_eq!(
        bank.list_accounts(&mut (session).clone(), &ctx(2)).await,
        Err(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn one_account_fails_while_the_others_succeed() {
    for (bank, user) in [(cl(), "41614850-3"), (mx(), "SAND800101AB1")] {
        let creds = person(user, "jonsnow+fail_account@1+mfa_app");
        let session = bank
            .answer_mfa(&challenge(&bank, &creds).await, &MfaAnswer::Approved)
            .await
            .unwrap();
        let window = DateWindow::last_days(today(), 30);
        for refresh in [0, 1, 2] {
            let accounts = bank
                .list_accounts(&mut (session).clone(), &ctx(refresh))
                .await
                .unwrap();
            for (position, account) in accounts.iter().enumerate() {
                let result = bank
                    .fetch_movements(&mut (session).clone(), account, window, &ctx(refresh))
                    .await;
                if position == 1 && refresh >= 1 {
                    let err = result.unwrap_err();
                    assert!(
                        matches!(&err, ConnectorError::AccountFailed { bank_id, .. } if *bank_id == account.bank_id)
                    );
                    assert_eq!(err.public_error(), "retryable_error");
                } else {
                    assert!(!result.unwrap().is_empty());
                }
            }
        }
    }
}

#[tokio::test]
async fn unknown_accounts_fail_alone() {
    let bank = cl();
    let session = logged_in(&bank, &person("41614850-3", "jonsnow")).await;
    let mut account = bank
        .list_accounts(&mut (session).clone(), &ctx(0))
        .await
        .unwrap()
        .remove(0);
    account.bank_id = "someone-else".into();
    let result = bank
        .fetch_movements(
            &mut (session).clone(),
            &account,
            DateWindow::last_days(today(), 3),
            &ctx(0),
        )
        .await;
    assert!(matches!(result, Err(ConnectorError::AccountFailed { .. })));
}

#[tokio::test]
async fn latency_from_config_and_from_credentials() {
    // tokio's paused clock needs the `test-util` feature, which the crate does not enable, so
    // this uses short real delays and checks both bounds.
    let slow_bank = chile(SandboxConfig {
        latency: Duration::from_millis(120),
    });
    let started = tokio::time::Instant::now();
    let session = logged_in(&slow_bank, &person("41614850-3", "jonsnow")).await;
    assert!(started.elapsed() >= Duration::from_millis(120));

    let started = tokio::time::Instant::now();
    slow_bank
        .list_accounts(&mut (session).clone(), &ctx(0))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(120));

    let bank = cl();
    let creds = person("41614850-3", "jonsnow+slow150ms");
    let cut_short = tokio::time::timeout(Duration::from_millis(40), bank.login(&creds)).await;
    assert!(cut_short.is_err(), "a slow bank must not answer early");
    let started = tokio::time::Instant::now();
    let session = logged_in(&bank, &creds).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    // The latency travels in the session, so data calls are slow too.
    let started = tokio::time::Instant::now();
    bank.list_accounts(&mut (session).clone(), &ctx(0))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));

    // Without latency nothing waits.
    let started = tokio::time::Instant::now();
    logged_in(&bank, &person("41614850-3", "jonsnow")).await;
    assert!(started.elapsed() < Duration::from_millis(100));
}
