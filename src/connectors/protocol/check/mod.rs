//! The conformance run of `refresco connector check`: what a connector author runs in their
//! own CI to see that their service follows the protocol.
//!
//! It plays the engine once against the service: the manifest, a login (answering a second
//! factor if asked), the accounts, then each account's movements over the last 90 and the last
//! 7 days up to today (UTC), each window fetched twice, and at the end one login with a wrong
//! password. Answers are judged as raw JSON (`invariants`), and every answer is searched for
//! the password as it arrives (`wire`).
//!
//! A failure does not stop the run where later checks still have what they need, so one run
//! reports every violation it can see. A check whose input never came (no session after a
//! failed login, say) is `skip`ped with the reason: it counts as neither passed nor failed,
//! since the failure that starved it is already in the report.

mod invariants;
mod movements;
mod report;
mod wire;

use std::collections::HashSet;

use serde_json::{json, Value};

use self::report::{Check, Run};
pub use self::report::{Outcome, Report, Verdict};
use self::wire::Wire;
use super::{ErrorCode, LoginResponse, MfaResponse};
use crate::connectors::{BankAccount, FetchContext, MfaKind};

/// What to check, and with which test credentials.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The connector service's URL.
    pub url: String,
    /// The institution to log in to (one of the manifest's).
    #[arg(long)]
    pub institution: String,
    /// A test login at that institution.
    #[arg(long)]
    pub username: String,
    /// Its password. No answer may contain it.
    #[arg(long, env = "REFRESCO_CHECK_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// The second-factor code to answer with, when the bank asks for one by SMS or device.
    #[arg(long)]
    pub mfa_code: Option<String>,
    /// `individual` or `business`.
    #[arg(long, default_value = "individual", value_parser = ["individual", "business"])]
    pub holder_type: String,
    /// The bearer token the service expects.
    #[arg(long, env = "REFRESCO_CONNECTOR_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// The wrong login's password: fixed, not derived from the real one, so no part of the real
/// password travels in it. Answers are searched for it too.
const WRONG_PASSWORD: &str = "refresco-check-wrong-password";

/// Runs every check against the service.
pub async fn run(args: &CheckArgs) -> Report {
    let mut run = Run::default();
    steps(args, &mut run).await;
    run.report()
}

async fn steps(args: &CheckArgs, run: &mut Run) {
    let wrong = if args.password == WRONG_PASSWORD {
        format!("{WRONG_PASSWORD}-2")
    } else {
        WRONG_PASSWORD.to_owned()
    };
    let secrets = vec![
        ("the password", args.password.clone()),
        ("the wrong password the check tried", wrong.clone()),
    ];
    let mut wire = match Wire::new(&args.url, &args.token, secrets) {
        Ok(wire) => wire,
        Err(e) => {
            run.fail(Check::ManifestAnswers, &e);
            run.skip_unrecorded(&Check::ALL, "not run: the connector's URL is unusable");
            return;
        }
    };
    if !manifest(&mut wire, args, run).await {
        // The engine loads no connector whose manifest it cannot read, and a connector that
        // is down or refuses the token would fail every later call the same way.
        run.skip_unrecorded(&Check::ALL, "not run: GET /manifest failed");
        return;
    }
    let ctx = FetchContext {
        today: chrono::Utc::now().date_naive(),
        refresh_number: 0,
    };
    match login(&mut wire, args, run).await {
        Some(mut session) => data(&mut wire, args, run, &mut session, ctx).await,
        None => run.skip_unrecorded(&Check::DATA, "not run: no session, the login failed"),
    }
    // Last, so a bank that counts wrong attempts has already served the data.
    match wire.post("login", &login_body(args, &wrong)).await {
        Ok(reply) => run.record(
            Check::InvalidCredentials,
            invariants::error_answer(reply.status, &reply.body, ErrorCode::InvalidCredentials),
        ),
        Err(e) => run.fail(Check::InvalidCredentials, &e),
    }
    run.record(Check::ErrorClasses, invariants::error_classes(&wire.errors));
    run.record(Check::NotEchoed, wire.leaks.clone());
}

/// Reads and judges the manifest; false when there is none to judge.
async fn manifest(wire: &mut Wire, args: &CheckArgs, run: &mut Run) -> bool {
    let reply = match wire.get("manifest").await {
        Ok(reply) => reply,
        Err(e) => {
            run.fail(Check::ManifestAnswers, &e);
            return false;
        }
    };
    let manifest = match reply.success() {
        Ok(manifest) if manifest.is_object() => manifest,
        Ok(_) => {
            let e = format!(
                "answered {}, not a JSON object",
                invariants::excerpt(&reply.body)
            );
            run.fail(Check::ManifestAnswers, &e);
            return false;
        }
        Err(e) => {
            run.fail(Check::ManifestAnswers, &e);
            return false;
        }
    };
    run.pass(Check::ManifestAnswers, "");
    run.record(
        Check::ManifestProtocol,
        invariants::manifest_protocol(&manifest),
    );
    run.record(
        Check::ManifestInstitutions,
        invariants::manifest_institutions(&manifest),
    );
    run.record(
        Check::ManifestInstitution,
        invariants::manifest_lists(&manifest, &args.institution),
    );
    true
}

fn login_body(args: &CheckArgs, password: &str) -> Value {
    json!({
        "institution_id": args.institution,
        "credentials": {
            "username": args.username,
            "password": password,
            "holder_type": args.holder_type,
        },
    })
}

/// Logs in, answering a second factor if asked: the session, or `None` after recording why
/// there is none.
async fn login(wire: &mut Wire, args: &CheckArgs, run: &mut Run) -> Option<Value> {
    let failed = |run: &mut Run, check: Check, detail: &str| {
        run.fail(check, detail);
        run.skip_unrecorded(&[Check::SecondFactor], "not run: the login failed");
        None
    };
    let answer = match wire
        .post_json("login", &login_body(args, &args.password))
        .await
    {
        Ok(answer) => answer,
        Err(e) => return failed(run, Check::Login, &e),
    };
    let challenge = match serde_json::from_value::<LoginResponse>(answer.clone()) {
        Err(e) => {
            return failed(
                run,
                Check::Login,
                &format!("the answer breaks the schema: {e}"),
            )
        }
        Ok(LoginResponse::LoggedIn { .. }) => {
            run.pass(Check::Login, "");
            run.pass(Check::SecondFactor, "none asked");
            return answer.get("session").cloned();
        }
        Ok(LoginResponse::MfaRequired { challenge }) => challenge,
    };
    run.pass(Check::Login, "");
    let kind = challenge.kind;
    let reply = match (kind, &args.mfa_code) {
        (MfaKind::App, _) => json!("approved"),
        (_, Some(code)) => json!({ "code": code }),
        (_, None) => {
            let e = format!(
                "the bank asked for a code (second factor of kind {}) and no --mfa-code was \
                 given",
                kind.as_str()
            );
            run.fail(Check::SecondFactor, &e);
            return None;
        }
    };
    let body = json!({
        "institution_id": args.institution,
        // Handed back exactly as it came: the session inside is the connector's own.
        "challenge": answer.get("challenge"),
        "answer": reply,
    });
    let answer = match wire.post_json("mfa", &body).await {
        Ok(answer) => answer,
        Err(e) => {
            run.fail(
                Check::SecondFactor,
                &format!("{} challenge: {e}", kind.as_str()),
            );
            return None;
        }
    };
    if let Err(e) = serde_json::from_value::<MfaResponse>(answer.clone()) {
        run.fail(
            Check::SecondFactor,
            &format!("the answer breaks the schema: {e}"),
        );
        return None;
    }
    run.pass(
        Check::SecondFactor,
        &format!("answered the {} challenge", kind.as_str()),
    );
    answer.get("session").cloned()
}

/// The accounts, then their movements.
async fn data(
    wire: &mut Wire,
    args: &CheckArgs,
    run: &mut Run,
    session: &mut Value,
    ctx: FetchContext,
) {
    let body = json!({
        "institution_id": args.institution,
        "session": session,
        "context": ctx,
    });
    let no_accounts = "not run: no account to fetch";
    let answer = match wire.post_json("accounts", &body).await {
        Ok(answer) => answer,
        Err(e) => {
            run.fail(Check::Accounts, &e);
            run.skip_unrecorded(&Check::DATA, no_accounts);
            return;
        }
    };
    let Some(accounts) = answer.get("accounts").and_then(Value::as_array) else {
        run.fail(Check::Accounts, "\"accounts\" is not a list");
        run.skip_unrecorded(&Check::DATA, no_accounts);
        return;
    };
    if let Some(renewed) = answer.get("session").filter(|s| !s.is_null()) {
        *session = renewed.clone();
    }
    run.record(Check::Accounts, invariants::accounts(accounts));
    // The movements of every account that can be sent back as the schema says, once per
    // bank id: a duplicate is the accounts rule's to report.
    let mut ids = HashSet::new();
    let usable: Vec<Value> = accounts
        .iter()
        .filter(|a| serde_json::from_value::<BankAccount>((*a).clone()).is_ok())
        .filter(|a| ids.insert(a.get("bank_id").and_then(Value::as_str)))
        .cloned()
        .collect();
    if usable.is_empty() {
        run.skip_unrecorded(&Check::DATA, no_accounts);
        return;
    }
    movements::check(wire, run, &args.institution, session, &usable, ctx).await;
}
