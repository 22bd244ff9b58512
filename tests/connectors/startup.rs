//! Connectors at start: one that is down does not stop the server, its banks are missing and
//! their refreshes fail `retryable_error` until it answers, then they appear (retried in the
//! background); two connectors claiming one institution id stop the start with a clear error.

use std::time::{Duration, Instant};

use refresco::Config;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::faulty::FaultyConnector;
use super::support::*;
use crate::both_backends;
use crate::common::*;

/// What `GET /v1/institutions` lists, as (id, source) pairs.
async fn institutions(app: &TestApp) -> Vec<(String, String)> {
    let listed = get_ok(app, "/v1/institutions").await;
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A configuration on a fresh database of `backend`, and what must outlive its use.
async fn fresh_config(
    backend: Backend,
) -> Option<(
    Config,
    tempfile::TempDir,
    Option<crate::common::postgres::FreshDatabase>,
)> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        migrate: true,
        ..Config::default()
    };
    let database = match backend {
        Backend::Postgres => {
            let database = crate::common::postgres::fresh_database("t").await?;
            config.database_url = Some(refresco::config::Secret::new(database.url.clone()));
            Some(database)
        }
        _ => None,
    };
    Some((config, dir, database))
}

/// `refresco::build`'s error for `config`, which must be refused.
async fn refused(config: Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match refresco::build(config, listener).await {
        Ok(_) => panic!("the server started"),
        Err(e) => format!("{e:#}"),
    }
}

both_backends! {
    async fn a_connector_down_at_start_is_waited_for_in_the_background(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let mut connector = FaultyConnector::start(50).await;
        let mut app = app_with(backend, connector.config()).await.unwrap();
        let (_, token) = cl_link(&app, "jonsnow+instant+changes").await;
        let (_, mfa_token) = cl_link(&app, "jonsnow+instant+mfa_sms").await;
        let parked = refresh(&app, &mfa_token).await;
        let parked_id = parked["id"].as_str().unwrap();
        wait_challenge(&app, parked["requires_mfa"]["widget_token"].as_str().unwrap()).await;

        // The server restarts while its only connector is down: it starts all the same.
        connector.stop().await;
        app.restart().await;
        assert_eq!(institutions(&app).await, Vec::<(String, String)>::new(), "no bank yet");
        let failed = refresh_to_end(&app, &token).await;
        assert_retryable(&failed, "its connector is not loaded");
        assert_eq!(failed["failure_reason"], "connector_unavailable");
        // The parked second factor, and new credentials, cannot be checked meanwhile: the bank
        // is unavailable (the documented 503), not a server error.
        let (status, body) = answer_mfa(&app, &mfa_token, parked_id, "123456").await;
        assert_error(status, &body, 503, "unavailable_institution");
        let (status, body) = into_json(app.request(Method::PATCH, &format!("/v1/links/{token}"),
            Some(&app.keys.secret_key), Some(json!({"password": "jonsnow+instant+changes"}))).await).await;
        assert_error(status, &body, 503, "unavailable_institution");

        connector.restart().await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while institutions(&app).await.is_empty() {
            assert!(Instant::now() < deadline, "the connector's banks never appeared");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let expected = [("cl_banco_sandbox", "connector"), ("mx_banco_sandbox", "connector")]
            .map(|(i, s)| (i.to_owned(), s.to_owned()));
        assert_eq!(institutions(&app).await, expected);
        let done = refresh_to_end(&app, &token).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let (status, body) = answer_mfa(&app, &mfa_token, parked_id, "123456").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(wait_final(&app, &mfa_token, parked_id).await["status"], "succeeded");
    }

    async fn two_connectors_serving_one_institution_stop_the_start(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let (first, second) = (FaultyConnector::start(50).await, FaultyConnector::start(50).await);
        let Some((mut config, _dir, _database)) = fresh_config(backend).await else { return };
        config.sandbox = false;
        config.connectors = vec![first.config(), second.config()];
        let error = refused(config.clone()).await;
        assert!(error.contains("cl_banco_sandbox") && error.contains("two connectors"), "{error}");
        assert!(error.contains(&second.addr.to_string()), "names the connector refused: {error}");
        // A connector claiming a built-in bank is refused the same way.
        config.sandbox = true;
        config.connectors = vec![first.config()];
        let error = refused(config).await;
        assert!(error.contains("cl_banco_sandbox") && error.contains("two connectors"), "{error}");
    }
}
