//! `Idempotency-Key` on POST.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::database::{execute, text_column};
use crate::common::*;

async fn post_link(
    app: &TestApp,
    key: Option<&str>,
    idem: &str,
    body: Value,
) -> (u16, Value, bool) {
    let mut request = app
        .client
        .post(format!("{}/v1/links", app.base))
        .header("Idempotency-Key", idem)
        .json(&body);
    if let Some(key) = key {
        request = request.header("Authorization", key);
    }
    let response = request.send().await.unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let (status, body) = into_json(response).await;
    (status.as_u16(), body, replayed)
}

both_backends! {
    async fn stored_fingerprints_are_keyed_per_install(app: TestApp) {
        // The same request, with the same key, on two installs (two master keys).
        let other = TestApp::start(app.backend).await.expect("a second install");
        let body = json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow"});
        let mut stored = Vec::new();
        for install in [&app, &other] {
            let (status, first, _) = post_link(install, Some(&install.keys.secret_key), "same-key", body.clone()).await;
            assert_eq!(status, 201, "{first}");
            let (status, again, replayed) = post_link(install, Some(&install.keys.secret_key), "same-key", body.clone()).await;
            assert_eq!((status, replayed), (201, true), "a replay still matches: {again}");
            assert_eq!(first["id"], again["id"]);
            let fingerprints = text_column(install, "SELECT fingerprint FROM idempotency_keys").await;
            assert_eq!(fingerprints.len(), 1);
            stored.push(fingerprints[0].clone());
        }
        assert_ne!(stored[0], stored[1], "installs store different fingerprints of one request");
        let mut plain = <sha2::Sha256 as sha2::Digest>::new();
        for part in ["POST", "/v1/links", "", &body.to_string()] {
            sha2::Digest::update(&mut plain, part.len().to_le_bytes());
            sha2::Digest::update(&mut plain, part.as_bytes());
        }
        let plain = hex::encode(sha2::Digest::finalize(plain));
        assert!(!stored.contains(&plain), "the stored fingerprint is not the plain SHA-256");

        // A row stored unkeyed (the plain SHA-256) still matches its request until it expires.
        execute(&app, &format!("UPDATE idempotency_keys SET fingerprint = '{plain}'")).await;
        let (status, _, replayed) = post_link(&app, Some(&app.keys.secret_key), "same-key", body.clone()).await;
        assert_eq!((status, replayed), (201, true));
        let changed = json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow2"});
        let (status, refused, _) = post_link(&app, Some(&app.keys.secret_key), "same-key", changed).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"]["code"], "idempotency_key_reused");
        other.stop().await;
    }

    async fn replays_first_response_and_refuses_other_parameters(app: TestApp) {
        let body = json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow"});
        let key = app.keys.secret_key.clone();
        let (s1, first, r1) = post_link(&app, Some(&key), "key-1", body.clone()).await;
        assert_eq!(s1, 201);
        assert!(!r1);
        let (s2, second, r2) = post_link(&app, Some(&key), "key-1", body.clone()).await;
        assert_eq!((s2, r2), (201, true));
        assert_eq!(first, second, "identical replay, token included");
        let (_, list) = app.get("/v1/links").await;
        assert_eq!(list.as_array().unwrap().len(), 1, "only one link was created");

        let (s3, err, _) = post_link(&app, Some(&key), "key-1", json!({"institution_id": "cl_banco_sandbox", "username": "40427672-7", "password": "jonsnow"})).await;
        assert_error(reqwest::StatusCode::from_u16(s3).unwrap(), &err, 400, "idempotency_key_reused");

        // 4xx answers are replayed too.
        let bad = json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "nope"});
        let (s4, e4, _) = post_link(&app, Some(&key), "key-2", bad.clone()).await;
        let (s5, e5, r5) = post_link(&app, Some(&key), "key-2", bad).await;
        assert_eq!((s4, s5, r5), (406, 406, true));
        assert_eq!(e4, e5);

        // The same key in another organization is independent.
        let other = app.key_pair("globex", refresco::domain::Mode::Test).await;
        let (s6, _, r6) = post_link(&app, Some(&other.secret_key), "key-1", body).await;
        assert_eq!((s6, r6), (201, false));
    }

    async fn nothing_is_stored_when_authentication_fails(app: TestApp) {
        let body = json!({"institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow"});
        let (s1, _, _) = post_link(&app, Some("sk_test_wrong"), "key-a", body.clone()).await;
        assert_eq!(s1, 401);
        let (s2, _, r2) = post_link(&app, Some(&app.keys.secret_key), "key-a", body).await;
        assert_eq!((s2, r2), (201, false), "the key was not burnt by the failed attempt");
        let long = "k".repeat(256);
        let response = app.client.post(format!("{}/v1/links", app.base))
            .header("Authorization", &app.keys.secret_key).header("Idempotency-Key", long)
            .json(&json!({})).send().await.unwrap();
        let (status, err) = into_json(response).await;
        assert_error(status, &err, 400, "invalid_idempotency_key");
        let _ = Method::POST;
    }
}
