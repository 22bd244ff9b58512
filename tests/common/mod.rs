//! Test harness: starts the real application on 127.0.0.1:0 with a fresh database per test,
//! on SQLite (a temporary directory) or PostgreSQL (a new database on the server named by
//! `REFRESCO_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//!
//! When PostgreSQL is unreachable, PostgreSQL tests are skipped with a message, unless `CI` is
//! set (or `REFRESCO_REQUIRE_POSTGRES=1`): then they fail loudly.
//!
//! A third variant, [`Backend::SqliteConnector`], runs on SQLite with the built-in banks off and
//! the same sandbox banks reached over the connector protocol, in a process of their own
//! ([`connector::shared`]).
#![allow(dead_code)]

pub mod chromium;
pub mod connector;
pub mod database;
pub mod postgres;
pub mod receiver;

use std::time::{Duration, Instant};

use refresco::config::Secret;
use refresco::domain::Mode;
use refresco::tenants::{self, KeyPair};
use refresco::Config;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Which database a test runs on, and where its banks are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the built-in sandbox banks.
    Sqlite,
    /// PostgreSQL, the built-in sandbox banks.
    Postgres,
    /// SQLite, `sandbox = false`, and the sandbox banks served over the connector protocol by
    /// the test binary's `refresco connector serve-sandbox` process: the only connector.
    SqliteConnector,
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// Test-mode keys of the organization "acme".
    pub keys: KeyPair,
    pub state: refresco::api::AppState,
    pub config: Config,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
    /// Dropped after the server stops (field order), which drops the database.
    _pg_database: Option<postgres::FreshDatabase>,
}

impl TestApp {
    /// Starts a server; `None` only for PostgreSQL when it is unavailable and not required.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server after letting the test adjust its configuration.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            migrate: true,
            // Suites send bursts and poll fast; a test of the limits themselves sets its own.
            api_rate_limit_per_sec: 1_000_000,
            widget_rate_limit: 1_000_000,
            ..Config::default()
        };
        let pg_database = match backend {
            Backend::Sqlite => None,
            Backend::SqliteConnector => {
                config.sandbox = false;
                config.connectors = vec![connector::shared().config()];
                None
            }
            Backend::Postgres => {
                let database = postgres::fresh_database("t").await?;
                config.database_url = Some(Secret::new(database.url.clone()));
                Some(database)
            }
        };
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let app = refresco::build(config.clone(), listener)
            .await
            .expect("app builds");
        let addr = app.local_addr().unwrap();
        let state = app.state().clone();
        let keys = tenants::create_key_pair(&state.store, &state.keys, "acme", Mode::Test)
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run(shutdown.clone()));
        Some(TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
            backend,
            keys,
            state,
            config,
            shutdown,
            server: Some(server),
            _dir: dir,
            _pg_database: pg_database,
        })
    }

    /// Another key pair, of organization `org` in `mode`.
    pub async fn key_pair(&self, org: &str, mode: Mode) -> KeyPair {
        tenants::create_key_pair(&self.state.store, &self.state.keys, org, mode)
            .await
            .unwrap()
    }

    /// Sends a request with `key` (no auth when `None`).
    pub async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path_and_query}", self.base));
        if let Some(key) = key {
            request = request.header("Authorization", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    /// GET with the default secret key, returning status and JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .request(Method::GET, path, Some(&self.keys.secret_key), None)
            .await;
        into_json(response).await
    }

    /// Creates a sandbox link with `username` in the default organization and waits for its
    /// first history to end; returns the link JSON (as created) and its token.
    pub async fn create_link(&self, username: &str) -> (Value, String) {
        self.create_link_with(
            &self.keys.secret_key,
            "cl_banco_sandbox",
            username,
            "jonsnow",
        )
        .await
    }

    /// Creates a Chilean sandbox link whose bank asks for a second factor at login, and waits
    /// for its first history.
    pub async fn create_link_with_mfa(&self, password: &str, code: &str) -> (Value, String) {
        let response = self
            .request(
                Method::POST,
                "/v1/links",
                Some(&self.keys.secret_key),
                Some(json!({
                    "institution_id": "cl_banco_sandbox",
                    "username": "41614850-3",
                    "password": password,
                    "mfa_code": code,
                })),
            )
            .await;
        let (status, body) = into_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "link creation failed: {body}");
        let token = body["link_token"].as_str().expect("link_token").to_owned();
        self.first_history(&self.keys.secret_key, &token).await;
        (body, token)
    }

    /// Creates a link with explicit key, institution and credentials, and waits for its first
    /// history.
    pub async fn create_link_with(
        &self,
        key: &str,
        institution: &str,
        username: &str,
        password: &str,
    ) -> (Value, String) {
        let response = self
            .request(
                Method::POST,
                "/v1/links",
                Some(key),
                Some(json!({
                    "institution_id": institution,
                    "username": username,
                    "password": password,
                    "holder_type": "individual",
                })),
            )
            .await;
        let (status, body) = into_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "link creation failed: {body}");
        let token = body["link_token"].as_str().expect("link_token").to_owned();
        self.first_history(key, &token).await;
        (body, token)
    }

    /// Waits for the first history of the link `token` opens (the `historical` refresh intent
    /// its creation made, its oldest) to end, and returns that intent.
    pub async fn first_history(&self, key: &str, token: &str) -> Value {
        let path = format!("/v1/refresh_intents?link_token={token}&per_page=300");
        let response = self.request(Method::GET, &path, Some(key), None).await;
        let (status, list) = into_json(response).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let first = list
            .as_array()
            .and_then(|intents| intents.last())
            .unwrap_or_else(|| panic!("a new link without its first history: {list}"));
        assert_eq!(first["type"], "historical", "{first}");
        let id = first["id"].as_str().expect("intent id").to_owned();
        if self.config.role == refresco::config::Role::Api {
            // No worker runs here: drive the first history as one would, a step at a time.
            let worker = refresco::engine::worker::Worker::new(self.state.engine.clone());
            worker.run_once().await.expect("the first history runs");
        }
        wait_until_as(self, key, token, &id, |i| i["status"] != "created").await
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.stop_server().await;
    }

    /// Stops the server gracefully and starts a new one on the same database and master key
    /// (the keys and data survive; the address changes).
    pub async fn restart(&mut self) {
        self.stop_server().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = refresco::build(self.config.clone(), listener)
            .await
            .expect("app rebuilds");
        self.base = format!("http://{}", app.local_addr().unwrap());
        self.state = app.state().clone();
        self.shutdown = CancellationToken::new();
        self.server = Some(tokio::spawn(app.run(self.shutdown.clone())));
    }

    /// Stops the server (graceful: the worker drains) but keeps the database for inspection.
    pub async fn stop_server(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Status and JSON body of a response (panics on a non-JSON body: every answer must be JSON).
pub async fn into_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, value)
}

/// Asserts the Fintoc error shape, the status and the code.
pub fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(
        status.as_u16(),
        expected_status,
        "unexpected status, body: {body}"
    );
    let error = &body["error"];
    assert!(error["type"].is_string(), "error.type missing: {body}");
    assert!(
        error["message"].is_string(),
        "error.message missing: {body}"
    );
    assert_eq!(error["code"], code, "unexpected code: {body}");
}

/// Fires a sample event of `event_type` (`POST /v1/events/trigger`); returns it.
pub async fn trigger(app: &TestApp, event_type: &str) -> Value {
    let response = app
        .request(
            Method::POST,
            "/v1/events/trigger",
            Some(&app.keys.secret_key),
            Some(json!({"type": event_type})),
        )
        .await;
    let (status, event) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    event
}

/// Polls the intent until `done(intent)` holds, failing after 60 s.
pub async fn wait_until(
    app: &TestApp,
    token: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    wait_until_as(app, &app.keys.secret_key, token, id, done).await
}

/// [`wait_until`] with the secret `key` of the link's organization and mode.
pub async fn wait_until_as(
    app: &TestApp,
    key: &str,
    token: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let path = format!("/v1/refresh_intents/{id}?link_token={token}");
    loop {
        let response = app.request(Method::GET, &path, Some(key), None).await;
        let (status, intent) = into_json(response).await;
        assert_eq!(status, StatusCode::OK, "{intent}");
        if done(&intent) {
            return intent;
        }
        assert!(
            Instant::now() < deadline,
            "intent never reached the expected state: {intent}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the intent until it has ended.
pub async fn wait_final(app: &TestApp, token: &str, id: &str) -> Value {
    wait_until(app, token, id, |i| i["status"] != "created").await
}

/// Runs each test function on SQLite and on PostgreSQL: modules `sqlite` and `postgres`.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $app = TestApp::start(Backend::Sqlite).await.expect("sqlite app");
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some($app) = TestApp::start(Backend::Postgres).await else { return };
                    $body
                }
            )*
        }
    };
}

/// Runs each test function as [`both_backends!`] does, and a third time on SQLite with the
/// sandbox banks behind the connector protocol (module `sqlite_connector`): for the suites
/// whose every assertion must hold whichever way the banks are reached.
#[macro_export]
macro_rules! both_backends_and_connector {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $crate::both_backends! { $(async fn $name($app: TestApp) $body)* }
        mod sqlite_connector {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $app = TestApp::start(Backend::SqliteConnector)
                        .await
                        .expect("sqlite app behind a connector");
                    $body
                }
            )*
        }
    };
}
