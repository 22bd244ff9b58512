//! Every check of schemathesis over `/v1/openapi.json`, on both backends, with real ids for
//! the objects it reaches.

use super::*;

/// The objects the fuzzer reaches with real ids: a link (its token, accounts and movements), a
/// refresh intent of it, a webhook endpoint, an event and a link intent.
struct FuzzSeed {
    link_token: String,
    accounts: Vec<String>,
    movements: Vec<String>,
    refresh_intent: String,
    endpoint: String,
    event: String,
    link_intent: String,
}

/// POSTs `body` to `path` and returns the created object's id.
async fn create(app: &TestApp, path: &str, body: Value) -> String {
    let response = app
        .request(
            reqwest::Method::POST,
            path,
            Some(&app.keys.secret_key),
            Some(body),
        )
        .await;
    let (status, created) = into_json(response).await;
    assert!(status.is_success(), "POST {path}: {status} {created}");
    created["id"].as_str().expect("an id").to_owned()
}

async fn fuzz_seed(app: &TestApp, receiver_url: &str) -> FuzzSeed {
    let (link, link_token) = app.create_link("41614850-3").await;
    let accounts = ids(&link["accounts"]);
    let (status, page) = app
        .get(&format!(
            "/v1/accounts/{}/movements?link_token={link_token}&per_page=5",
            accounts[0]
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let movements = ids(&page);
    assert!(!movements.is_empty(), "the sandbox account has movements");
    let refresh_intent = create(
        app,
        "/v1/refresh_intents",
        serde_json::json!({"link_token": link_token}),
    )
    .await;
    let endpoint = create(
        app,
        "/v1/webhook_endpoints",
        serde_json::json!({"url": receiver_url, "enabled_events": ["*"]}),
    )
    .await;
    let event = create(
        app,
        "/v1/events/trigger",
        serde_json::json!({"type": "account.refresh_intent.succeeded"}),
    )
    .await;
    let link_intent = create(
        app,
        "/v1/link_intents",
        serde_json::json!({"product": "movements", "country": "cl", "holder_type": "individual"}),
    )
    .await;
    FuzzSeed {
        link_token,
        accounts,
        movements,
        refresh_intent,
        endpoint,
        event,
        link_intent,
    }
}

/// schemathesis's configuration. Realistic values for the identifiers, so that most generated
/// requests reach the handlers instead of stopping at "no such link"; each binding still lets
/// generated values through a quarter of the time (half for the bank credentials).
///
/// `positive_data_acceptance` expects a well-formed request to succeed or to end in 401, 403,
/// 404, 409 or 429. Some operations have well-formed requests that the state of the world
/// refuses, which no schema can rule out, so for them (and only them) the Fintoc statuses of
/// those refusals are added: the bank refuses the credentials (406) or asks for a second
/// factor (422) on `POST /v1/links` and `PATCH /v1/links/{link_token}`; a refresh is already in
/// progress, or the link's credentials were rejected (422), on `POST /v1/refresh_intents`; the
/// intent has ended or asks for no second factor (422) on its `mfa`; the holder has not
/// finished in the widget (422) on `GET /v1/links/exchange`; the link to reconnect has another
/// country or holder type than the ones sent (422) on `POST /v1/link_intents`.
fn fuzz_config(seed: &FuzzSeed) -> String {
    let list = |values: &[String]| {
        let quoted: Vec<String> = values
            .iter()
            .map(|v| serde_json::to_string(v).unwrap())
            .collect();
        format!("[{}]", quoted.join(", "))
    };
    let one = |value: &String| list(std::slice::from_ref(value));
    format!(
        r#"# Written by tests/clients/fuzz.rs for one run.
[dictionaries]
link_token = {{ values = {link_tokens} }}
account_id = {{ values = {accounts} }}
movement_id = {{ values = {movements} }}
refresh_intent_id = {{ values = {refresh_intent} }}
endpoint_id = {{ values = {endpoint} }}
event_id = {{ values = {event} }}
link_intent_id = {{ values = {link_intent} }}
institution_id = {{ values = ["cl_banco_sandbox"] }}
username = {{ values = ["41614850-3", "40427672-7", "41579263-8"] }}
password = {{ values = ["jonsnow"] }}
holder_type = {{ values = ["individual", "business"] }}

[parameters]
"query.link_token" = {{ dictionary = "link_token", probability = 0.75 }}
"path.link_token" = {{ dictionary = "link_token", probability = 0.75 }}
"path.account_id" = {{ dictionary = "account_id", probability = 0.75 }}
"path.movement_id" = {{ dictionary = "movement_id", probability = 0.75 }}
"body.institution_id" = {{ dictionary = "institution_id", probability = 0.5 }}
"body.username" = {{ dictionary = "username", probability = 0.5 }}
"body.password" = {{ dictionary = "password", probability = 0.5 }}
"body.holder_type" = {{ dictionary = "holder_type", probability = 0.75 }}
"body.link_token" = {{ dictionary = "link_token", probability = 0.75 }}
"body.event_id" = {{ dictionary = "event_id", probability = 0.75 }}

[[operations]]
include-path-regex = "^/v1/refresh_intents/\\{{id\\}}$"
parameters = {{ "path.id" = {{ dictionary = "refresh_intent_id", probability = 0.75 }} }}

[[operations]]
include-path = "/v1/refresh_intents/{{id}}/mfa"
parameters = {{ "path.id" = {{ dictionary = "refresh_intent_id", probability = 0.75 }} }}
checks.positive_data_acceptance.expected-statuses = {world_refusals}

[[operations]]
include-path-regex = "^/v1/webhook_endpoints/\\{{id\\}}"
parameters = {{ "path.id" = {{ dictionary = "endpoint_id", probability = 0.75 }} }}

[[operations]]
include-path-regex = "^/v1/events/\\{{id\\}}"
parameters = {{ "path.id" = {{ dictionary = "event_id", probability = 0.75 }} }}

[[operations]]
include-path = "/v1/link_intents/{{id}}"
parameters = {{ "path.id" = {{ dictionary = "link_intent_id", probability = 0.75 }} }}

[[operations]]
include-path = ["/v1/links", "/v1/links/{{link_token}}"]
include-method = ["POST", "PATCH"]
checks.positive_data_acceptance.expected-statuses = {bank_refusals}

[[operations]]
include-path = "/v1/refresh_intents"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = {world_refusals}

[[operations]]
include-path = "/v1/links/exchange"
checks.positive_data_acceptance.expected-statuses = {world_refusals}

[[operations]]
include-path-regex = "^/v1/link_intents$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = {world_refusals}
"#,
        link_tokens = one(&seed.link_token),
        accounts = list(&seed.accounts),
        movements = list(&seed.movements),
        refresh_intent = one(&seed.refresh_intent),
        endpoint = one(&seed.endpoint),
        event = one(&seed.event),
        link_intent = one(&seed.link_intent),
        bank_refusals = r#"["2xx", "3xx", "401", "403", "404", "406", "409", "422", "429", "5xx"]"#,
        world_refusals = r#"["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]"#,
    )
}
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// One schemathesis run over the operations `selection` picks.
async fn schemathesis(app: &TestApp, dir: &Path, selection: &[&str], max_examples: u32) -> String {
    let mut cmd = command(venv_bin("schemathesis"));
    cmd.current_dir(dir)
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/v1/openapi.json", app.base))
        .args(["--url", &app.base])
        .args([
            "--header",
            &format!("Authorization: {}", app.keys.secret_key),
        ])
        .args(["--checks", "all"])
        .args(["--max-examples", &max_examples.to_string()])
        .args(["--seed", FUZZ_SEED])
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "10"])
        .arg("--no-color")
        .args(selection);
    run(
        cmd,
        &format!("schemathesis {}", selection.join(" ")),
        FUZZ_LIMIT,
    )
    .await
}

/// The run found nothing: its last line (`==== N warnings in …s ====` or `==== No issues found
/// …`) names no failure, and the test-case count shows every generated case passed. The exit
/// status says so too (`run` checks it); this keeps a failure visible should it ever not.
fn assert_no_failures(out: &str) {
    let last = out
        .lines()
        .rev()
        .find(|l| l.starts_with('=') && l.trim_end().ends_with('='))
        .unwrap_or_else(|| panic!("no closing line in the schemathesis output:\n{out}"));
    assert!(
        !last.contains("failure"),
        "schemathesis found failures:\n{out}"
    );
    let counts = out
        .lines()
        .find(|l| l.trim_start().contains(" generated, "));
    if let Some(counts) = counts {
        assert!(
            !counts.contains("found"),
            "schemathesis found failures:\n{out}"
        );
    }
}

/// The run's summary says `Selected: N/M` and `Tested: N`, with N > 0.
fn assert_every_selected_operation_tested(out: &str) {
    let value = |label: &str| {
        out.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|rest| rest.trim().split('/').next().unwrap().trim().to_owned())
            .unwrap_or_else(|| panic!("no `{label}` line in the schemathesis summary:\n{out}"))
    };
    let selected: u32 = value("Selected:").parse().expect("a count");
    let tested: u32 = value("Tested:").parse().expect("a count");
    assert!(selected > 0, "schemathesis selected operations:\n{out}");
    assert_eq!(
        tested, selected,
        "every selected operation was tested:\n{out}"
    );
}

both_backends! {
    async fn fuzz_openapi_with_schemathesis(app: TestApp) {
        let test = format!("fuzz_openapi_with_schemathesis ({:?})", app.backend);
        let present = venv_bin("schemathesis").exists();
        if !require(&test, ".venv-test (schemathesis 4.32.5)", present) {
            return;
        }
        let receiver = receiver::Receiver::start().await;
        let seed = fuzz_seed(&app, &receiver.url).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schemathesis.toml"), fuzz_config(&seed)).unwrap();

        // Everything but DELETE and PATCH of a link first: their stateful phases would
        // otherwise delete the link (by the ids GET /v1/links returns) or deactivate it
        // early on, and later requests would stop at 404 or 400 `invalid_on_demand_link`.
        let patch_link = "PATCH /v1/links/{link_token}";
        let out = schemathesis(&app, dir.path(),
            &["--exclude-method", "DELETE", "--exclude-name", patch_link], FUZZ_EXAMPLES).await;
        assert_no_failures(&out);
        assert_every_selected_operation_tested(&out);
        let token = &seed.link_token;
        let (status, body) = app.get(&format!("/v1/links/{token}")).await;
        assert_eq!(status, StatusCode::OK, "the link survived: {body}");

        let out = schemathesis(&app, dir.path(), &["--include-name", patch_link], FUZZ_DELETE_EXAMPLES).await;
        assert_no_failures(&out);
        assert_every_selected_operation_tested(&out);
        let out = schemathesis(&app, dir.path(), &["--include-method", "DELETE"], FUZZ_DELETE_EXAMPLES).await;
        assert_no_failures(&out);
        assert_every_selected_operation_tested(&out);
        let (status, body) = app.get("/healthz").await;
        assert_eq!(status, StatusCode::OK, "the server is still healthy: {body}");
    }
}
