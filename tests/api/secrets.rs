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
        let webhook_secret = endpoint["secret"].as_str().expect("whsec").to_owned();
        let raw = raw_database(&app).await;
        // Sanity: the check can see plain data (so a miss below means something).
        assert!(contains(&raw, link["id"].as_str().unwrap()), "the dump holds the link id");
        assert!(contains(&raw, "41614850-3"), "the dump holds the username");
        assert!(!contains(&raw, &token), "link token in plaintext");
        let secret_part = token.split("_token_").nth(1).unwrap();
        assert!(!contains(&raw, secret_part), "link token secret in plaintext");
        assert!(!contains(&raw, &app.keys.secret_key), "secret key in plaintext");
        assert!(!contains(&raw, &app.keys.secret_key["sk_test_".len()..]), "secret key body");
        assert!(!contains(&raw, &app.keys.public_key), "public key in plaintext");
        assert!(!contains(&raw, password), "bank password in plaintext");
        assert!(!contains(&raw, &mfa_token), "second link token in plaintext");
        assert!(!contains(&raw, &webhook_secret["whsec_".len()..]), "webhook secret in plaintext");
        assert!(!contains(&raw, widget_token.split("_sec_").nth(1).unwrap()), "widget token secret in plaintext");
    }
}
