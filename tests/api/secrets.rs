//! Nothing secret is stored in plaintext: the raw database holds neither API keys, link tokens
//! nor bank passwords.

use crate::both_backends;
use crate::common::database::{contains, raw_database};
use crate::common::*;

both_backends! {
    async fn no_secret_is_stored_in_plaintext(app: TestApp) {
        let password = "jonsnow";
        let (link, token) = app.create_link("41614850-3").await;
        // A refresh waiting for its second factor: its widget token, bank challenge and (after
        // the answer) bank session are in the database too.
        let (_, mfa_token) = app.create_link_with_mfa("jonsnow+mfa_sms", "123456").await;
        let response = app.request(reqwest::Method::POST, "/v1/refresh_intents", Some(&app.keys.secret_key),
            Some(serde_json::json!({"link_token": mfa_token}))).await;
        let (_, intent) = into_json(response).await;
        let widget_token = intent["requires_mfa"]["widget_token"].as_str().expect("mfa").to_owned();
        let response = app.request(reqwest::Method::POST, "/v1/webhook_endpoints", Some(&app.keys.secret_key),
            Some(serde_json::json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]}))).await;
        let (_, endpoint) = into_json(response).await;
        // An idempotent creation: its answer (with the link token) is kept for replay.
        let response = app.client.post(format!("{}/v1/links", app.base))
            .header("Authorization", &app.keys.secret_key).header("Idempotency-Key", "secrets-1")
            .json(&serde_json::json!({"institution_id": "cl_banco_sandbox", "username": "40427672-7", "password": "jonsnow"}))
            .send().await.unwrap();
        let (_, idempotent_link) = into_json(response).await;
        let idempotent_token = idempotent_link["link_token"].as_str().expect("token").to_owned();
        let webhook_secret = endpoint["secret"].as_str().expect("whsec").to_owned();
        let raw = raw_database(&app).await;
        // Sanity: the check can see plain data (so a miss below means something).
        assert!(contains(&raw, link["id"].as_str().unwrap()), "the dump holds the link id");
        assert!(contains(&raw, "416148503"), "the dump holds the username");
        assert!(!contains(&raw, &token), "link token in plaintext");
        let secret_part = token.split("_token_").nth(1).unwrap();
        assert!(!contains(&raw, secret_part), "link token secret in plaintext");
        assert!(!contains(&raw, &app.keys.secret_key), "secret key in plaintext");
        assert!(!contains(&raw, &app.keys.secret_key["sk_test_".len()..]), "secret key body");
        assert!(!contains(&raw, &app.keys.public_key), "public key in plaintext");
        assert!(!contains(&raw, password), "bank password in plaintext");
        assert!(!contains(&raw, &mfa_token), "second link token in plaintext");
        assert!(!contains(&raw, &idempotent_token), "a stored idempotent answer leaks its link token");
        assert!(!contains(&raw, &webhook_secret["whsec_".len()..]), "webhook secret in plaintext");
        assert!(!contains(&raw, widget_token.split("_sec_").nth(1).unwrap()), "widget token secret in plaintext");
    }
}
