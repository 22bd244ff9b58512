//! The real binary's log, after everything that handles a secret (an API key, a bank password,
//! a link token in a query string, a webhook secret, the operator token on `/metrics` and at
//! the dashboard's sign-in, right and wrong), holds none of them, at debug level.

use reqwest::Client;
use serde_json::{json, Value};

use crate::process::spawn;

const TOKEN: &str = "log-test-operator-token-8d2f";

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = spawn(
        dir.path(),
        "secrets",
        &["--data-dir", data.to_str().unwrap()],
        &[
            ("REFRESCO_OPERATOR_TOKEN", TOKEN.to_owned()),
            ("REFRESCO_COOLDOWN_ONLY_LAST_SECS", "0".to_owned()),
            (
                "RUST_LOG",
                "info,refresco=debug,tower_http=debug".to_owned(),
            ),
        ],
    );
    let key = server.secret_key();
    let base = server.addr.clone();
    let client = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (status, link) = send(client.post(format!("{base}/v1/links")).header("Authorization", &key).json(
        &json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow"}),
    ))
    .await;
    assert_eq!(status, 201, "{link}");
    let token = link["link_token"].as_str().unwrap().to_owned();
    // The link's first history runs first: a link has one refresh at a time.
    loop {
        let (_, intents) = send(
            client
                .get(format!("{base}/v1/refresh_intents?link_token={token}"))
                .header("Authorization", &key),
        )
        .await;
        if intents
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] != "created")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, endpoint) = send(
        client
            .post(format!("{base}/v1/webhook_endpoints"))
            .header("Authorization", &key)
            .json(&json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, intent) = send(
        client
            .post(format!("{base}/v1/refresh_intents"))
            .header("Authorization", &key)
            .json(&json!({"link_token": token})),
    )
    .await;
    assert_eq!(status, 201, "{intent}");
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let id = intent_id.as_str();
    loop {
        let (_, intent) = send(
            client
                .get(format!("{base}/v1/refresh_intents/{id}?link_token={token}"))
                .header("Authorization", &key),
        )
        .await;
        if intent["status"] != "created" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for bearer in [TOKEN, "wrong-operator-token-000"] {
        send(client.get(format!("{base}/metrics")).bearer_auth(bearer)).await;
        send(
            client
                .post(format!("{base}/dashboard/sign-in"))
                .form(&[("token", bearer)]),
        )
        .await;
    }
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    server.stop();
    let log = std::fs::read_to_string(dir.path().join("secrets.log")).unwrap();
    assert!(
        log.contains("refresh finished"),
        "the log covers the refresh: {log}"
    );
    for (what, value) in [
        ("the API key", key.as_str()),
        ("the link token", token.as_str()),
        ("the bank password", "jonsnow"),
        ("the webhook secret", secret.as_str()),
        ("the operator token", TOKEN),
        ("a wrong operator token", "wrong-operator-token-000"),
    ] {
        assert!(!log.contains(value), "{what} is in the log:\n{log}");
    }
}
