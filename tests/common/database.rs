//! Looking at a test's database from outside the application: its URL, and everything it holds
//! as raw bytes (to prove that no secret is stored in plaintext).
#![allow(dead_code)]

use sqlx::{Connection, Row};

use super::{Backend, TestApp};

/// A URL for the test's database (the SQLite file, or the PostgreSQL database).
pub fn database_url(app: &TestApp) -> String {
    match app.backend {
        Backend::Sqlite | Backend::SqliteConnector => format!(
            "sqlite://{}",
            app.config.data_dir.join("refresco.db").display()
        ),
        Backend::Postgres => app
            .config
            .database_url
            .as_ref()
            .expect("a PostgreSQL test has a URL")
            .expose()
            .to_owned(),
    }
}

/// Everything the database holds, as text (every row of every table on PostgreSQL; the raw
/// file bytes, WAL included, on SQLite).
pub async fn raw_database(app: &TestApp) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite | Backend::SqliteConnector => {
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
            let mut conn = sqlx::PgConnection::connect(&database_url(app))
                .await
                .unwrap();
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

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The first column of every row `sql` returns, as text, read straight from the test's
/// database (an SQLite file or a PostgreSQL database), bypassing the application.
pub async fn text_column(app: &TestApp, sql: &str) -> Vec<String> {
    match app.backend {
        Backend::Sqlite | Backend::SqliteConnector => {
            let mut conn = sqlx::SqliteConnection::connect(&database_url(app))
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&database_url(app))
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
    }
}

/// Runs `sql` (a write) on the test's database, bypassing the application.
pub async fn execute(app: &TestApp, sql: &str) {
    match app.backend {
        Backend::Sqlite | Backend::SqliteConnector => {
            let mut conn = sqlx::SqliteConnection::connect(&database_url(app))
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&database_url(app))
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}
