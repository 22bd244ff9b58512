//! Nothing secret is stored in plaintext: the raw database holds neither API keys, link tokens
//! nor bank passwords.

use sqlx::{Connection, Row};

use crate::both_backends;
use crate::common::*;

/// Everything the database holds, as text (every row of every table on PostgreSQL; the raw
/// file bytes, WAL included, on SQLite).
async fn raw_database(app: &TestApp) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => {
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(&app.config.data_dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with("refresco.db") {
                    bytes.extend(std::fs::read(&path).unwrap());
                }
            }
            assert!(!bytes.is_empty());
            bytes
        }
        Backend::Postgres => {
            let url = app
                .config
                .database_url
                .as_ref()
                .unwrap()
                .expose()
                .to_owned();
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let mut out = Vec::new();
            for table in tables {
                let rows = sqlx::query(&format!("SELECT row_to_json(t)::text AS j FROM {table} t"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for row in rows {
                    let text: String = row.get("j");
                    out.extend(text.into_bytes());
                }
            }
            out
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

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
        assert!(!contains(&raw, widget_token.split("_sec_").nth(1).unwrap()), "widget token secret in plaintext");
    }
}
