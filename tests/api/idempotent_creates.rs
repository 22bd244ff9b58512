//! `Idempotency-Key` on `POST /v1/refresh_intents`, whose create stores its key's answer in
//! its own transaction instead of claiming the key first.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::database::{execute, text_column};
use crate::common::*;

/// `POST /v1/refresh_intents` with `idem` as its key: status, body, replayed.
async fn post_intent(app: &TestApp, idem: &str, body: Value) -> (u16, Value, bool) {
    let response = app
        .client
        .post(format!("{}/v1/refresh_intents", app.base))
        .header("Authorization", &app.keys.secret_key)
        .header("Idempotency-Key", idem)
        .json(&body)
        .send()
        .await
        .unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let (status, body) = into_json(response).await;
    (status.as_u16(), body, replayed)
}

/// The on-demand (`only_last`) intents of the link `token` opens, whatever their status: a
/// worker may already have run them (the link's first history is `historical`).
async fn on_demand(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, list) = app
        .get(&format!(
            "/v1/refresh_intents?link_token={token}&per_page=300"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap().clone();
    list.into_iter()
        .filter(|i| i["type"] == "only_last")
        .collect()
}

both_backends! {
    async fn a_keyed_create_stores_its_answer_with_the_intent(app: TestApp) {
        let (_, token) = app.create_link("41614850-3").await;
        let body = json!({"link_token": token});
        let (status, first, replayed) = post_intent(&app, "ri-1", body.clone()).await;
        assert_eq!((status, replayed), (201, false), "{first}");
        let stored = text_column(&app, "SELECT CAST(status_code AS TEXT) FROM idempotency_keys").await;
        assert_eq!(stored, vec!["201".to_owned()], "the key is stored with its answer");
        let (status, again, replayed) = post_intent(&app, "ri-1", body.clone()).await;
        assert_eq!((status, replayed), (201, true), "{again}");
        assert_eq!(first, again, "the replay is the first answer");
        assert_eq!(on_demand(&app, &token).await.len(), 1);

        // The same key with another request is refused, and its create wrote nothing.
        let (_, other) = app.create_link("40427672-7").await;
        let (status, refused, _) = post_intent(&app, "ri-1", json!({"link_token": other})).await;
        assert_error(StatusCode::from_u16(status).unwrap(), &refused, 400, "idempotency_key_reused");
        assert!(on_demand(&app, &other).await.is_empty(), "the refused create wrote no intent");

        // A create the rules refuse stores its refusal, replayed as it was.
        let (status, created, _) = post_intent(&app, "ri-2", json!({"link_token": other})).await;
        assert_eq!(status, 201, "{created}");
        let (status, busy, replayed) = post_intent(&app, "ri-3", json!({"link_token": other})).await;
        assert_eq!((status, replayed), (422, false), "{busy}");
        assert_eq!(busy["error"]["code"], "refresh_intent_in_progress");
        let (status, again, replayed) = post_intent(&app, "ri-3", json!({"link_token": other})).await;
        assert_eq!((status, replayed), (422, true));
        assert_eq!(busy, again);
    }

    async fn concurrent_creates_with_one_key_make_one_intent(app: TestApp) {
        let (_, token) = app.create_link("41614850-3").await;
        let mut sent = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (client, base, key, token) =
                (app.client.clone(), app.base.clone(), app.keys.secret_key.clone(), token.clone());
            sent.spawn(async move {
                let response = client
                    .post(format!("{base}/v1/refresh_intents"))
                    .header("Authorization", key)
                    .header("Idempotency-Key", "one-key")
                    .json(&json!({"link_token": token}))
                    .send()
                    .await
                    .unwrap();
                let replayed = response.headers().get("idempotent-replayed").is_some();
                let (status, body) = into_json(response).await;
                (status.as_u16(), body, replayed)
            });
        }
        let answers = sent.join_all().await;
        let created: Vec<&Value> = answers.iter().filter(|a| a.0 == 201).map(|a| &a.1).collect();
        for (status, body, _) in &answers {
            assert!(*status == 201 || (*status == 409 && body["error"]["code"] == "idempotency_key_in_use"),
                "{status} {body}");
        }
        assert!(!created.is_empty());
        assert!(created.iter().all(|c| c["id"] == created[0]["id"]), "one intent answered: {answers:?}");
        let first_answers = answers.iter().filter(|a| a.0 == 201 && !a.2).count();
        assert_eq!(first_answers, 1, "one request ran, the others replayed: {answers:?}");
        let intents = on_demand(&app, &token).await;
        assert_eq!(intents.len(), 1);
        assert_eq!(intents[0]["id"], created[0]["id"]);
    }

    async fn an_expired_key_creates_again(app: TestApp) {
        let (_, first_link) = app.create_link("41614850-3").await;
        let (_, second_link) = app.create_link("40427672-7").await;
        let (status, first, _) = post_intent(&app, "old", json!({"link_token": first_link})).await;
        assert_eq!(status, 201, "{first}");
        execute(&app, "UPDATE idempotency_keys SET created_at = 0").await;
        let (status, second, replayed) =
            post_intent(&app, "old", json!({"link_token": second_link})).await;
        assert_eq!((status, replayed), (201, false), "an expired key is new again: {second}");
        assert_ne!(first["id"], second["id"]);
        assert_eq!(on_demand(&app, &second_link).await.len(), 1);
        let (status, again, replayed) =
            post_intent(&app, "old", json!({"link_token": second_link})).await;
        assert_eq!((status, replayed), (201, true));
        assert_eq!(again, second);
    }

    async fn a_keyed_create_asking_for_a_second_factor_replays_its_widget_token(app: TestApp) {
        let (_, token) = app.create_link_with_mfa("jonsnow+mfa_sms", "123456").await;
        let (status, first, _) = post_intent(&app, "mfa", json!({"link_token": token})).await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(first["mfa_method"], "sms", "{first}");
        assert!(first["requires_mfa"]["widget_token"].is_string(), "{first}");
        let (status, again, replayed) = post_intent(&app, "mfa", json!({"link_token": token})).await;
        assert_eq!((status, replayed), (201, true));
        assert_eq!(first, again, "the stored answer is the one given, widget token included");
    }
}
