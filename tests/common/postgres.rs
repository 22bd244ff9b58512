//! A fresh PostgreSQL database for one test, on the server named by
//! `REFRESCO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), dropped when
//! the value is dropped. Unreachable server: `None` with a note, unless `CI` is set (or
//! `REFRESCO_REQUIRE_POSTGRES=1`), where it fails the test.
#![allow(dead_code)]

use std::sync::Once;

use sqlx::Connection;

/// A database that exists for as long as this value.
pub struct FreshDatabase {
    /// Its name.
    pub name: String,
    /// A URL to connect to it.
    pub url: String,
}

fn admin_url() -> String {
    std::env::var("REFRESCO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn postgres_required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
        || std::env::var("REFRESCO_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

static SKIP_NOTICE: Once = Once::new();

/// Creates a database named `refresco_<label>_<random>`.
pub async fn fresh_database(label: &str) -> Option<FreshDatabase> {
    let admin = admin_url();
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) => {
            if postgres_required() {
                panic!("PostgreSQL is required in CI but unreachable at {admin}: {e}");
            }
            SKIP_NOTICE.call_once(|| {
                eprintln!("NOTE: PostgreSQL unreachable ({e}); PostgreSQL tests are SKIPPED");
            });
            return None;
        }
    };
    let name = format!(
        "refresco_{label}_{}",
        refresco::crypto::random_token(12).to_lowercase()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    let mut url = url::Url::parse(&admin).expect("admin URL");
    url.set_path(&format!("/{name}"));
    Some(FreshDatabase {
        name,
        url: url.to_string(),
    })
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        // Async drop does not exist: drop the database from a helper thread.
        let (admin, name) = (admin_url(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
