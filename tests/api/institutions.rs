//! `GET /v1/institutions`: the built-in banks, a connector's banks beside them, each with its
//! `source`, and keys refused as on every secret-key endpoint.

use std::sync::Arc;

use async_trait::async_trait;
use refresco::config::{ConnectorConfig, Secret};
use refresco::connectors::protocol::server;
use refresco::connectors::{
    BankAccount, BankMovement, BankSession, Connector, ConnectorError, Credentials, DateWindow,
    FetchContext, Institution, LoginOutcome, MfaAnswer, MfaChallenge, Registry, Source,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::both_backends;
use crate::common::*;

/// A bank that is only a name: listing it needs nothing else.
struct Listed(Institution);

#[async_trait]
impl Connector for Listed {
    fn institution(&self) -> &Institution {
        &self.0
    }
    async fn login(&self, _: &Credentials) -> Result<LoginOutcome, ConnectorError> {
        Err(ConnectorError::Unavailable)
    }
    async fn answer_mfa(
        &self,
        _: &MfaChallenge,
        _: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError> {
        Err(ConnectorError::Unavailable)
    }
    async fn list_accounts(
        &self,
        _: &mut BankSession,
        _: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError> {
        Err(ConnectorError::Unavailable)
    }
    async fn fetch_movements(
        &self,
        _: &mut BankSession,
        _: &BankAccount,
        _: DateWindow,
        _: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        Err(ConnectorError::Unavailable)
    }
}

/// Serves `cl_banco_conector` over the protocol until `stop` fires; returns its table.
async fn connector_serving_one_bank(stop: CancellationToken) -> ConnectorConfig {
    let registry = Registry::new();
    let bank = Institution {
        id: "cl_banco_conector".into(),
        name: "Banco Conector".into(),
        country: "cl".into(),
        currency: "CLP".into(),
    };
    registry
        .register(Arc::new(Listed(bank)), Source::Connector)
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(
        listener,
        registry,
        Secret::new("t0ken"),
        50,
        stop,
    ));
    ConnectorConfig {
        url,
        token: Some(Secret::new("t0ken")),
        timeout: None,
    }
}

fn sandbox_banks() -> [serde_json::Value; 2] {
    [
        json!({"id": "cl_banco_sandbox", "object": "institution", "name": "Banco Sandbox Chile",
            "country": "cl", "currency": "CLP", "source": "sandbox", "status": "up", "status_since": null,
            "next_probe_at": null}),
        json!({"id": "mx_banco_sandbox", "object": "institution", "name": "Banco Sandbox México",
            "country": "mx", "currency": "MXN", "source": "sandbox", "status": "up", "status_since": null,
            "next_probe_at": null}),
    ]
}

both_backends! {
    async fn the_built_in_banks_are_listed_to_secret_keys_only(app: TestApp) {
        let (status, listed) = app.get("/v1/institutions").await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        assert_eq!(listed, json!(sandbox_banks()));
        // Live mode is not offered the sandbox banks: not listed, no live widget for their
        // countries.
        let live = app.key_pair("globex", refresco::domain::Mode::Live).await;
        let (status, none) = into_json(app.request(Method::GET, "/v1/institutions", Some(&live.secret_key), None).await).await;
        assert_eq!((status, none), (StatusCode::OK, json!([])));
        let (status, body) = into_json(app.request(Method::POST, "/v1/link_intents", Some(&live.secret_key),
            Some(json!({"product": "movements", "country": "cl", "holder_type": "individual"}))).await).await;
        assert_error(status, &body, 400, "invalid_country");

        for key in [None, Some(app.keys.public_key.as_str()), Some("sk_test_doesnotexist")] {
            let (status, body) = into_json(app.request(Method::GET, "/v1/institutions", key, None).await).await;
            assert_error(status, &body, 401, "invalid_api_key");
        }
    }

    async fn sandbox_in_live_offers_the_sandbox_banks_to_live_mode(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.sandbox_in_live = true).await.unwrap();
        let live = app.key_pair("globex", refresco::domain::Mode::Live).await;
        let (status, listed) = into_json(app.request(Method::GET, "/v1/institutions", Some(&live.secret_key), None).await).await;
        assert_eq!((status, listed), (StatusCode::OK, json!(sandbox_banks())));
        let (status, body) = into_json(app.request(Method::POST, "/v1/link_intents", Some(&live.secret_key),
            Some(json!({"product": "movements", "country": "cl", "holder_type": "individual"}))).await).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn a_connectors_banks_are_listed_beside_the_built_in_ones(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let stop = CancellationToken::new();
        let connector = connector_serving_one_bank(stop.clone()).await;
        let app = TestApp::start_with(backend, |c| c.connectors = vec![connector]).await.unwrap();
        let (status, listed) = app.get("/v1/institutions").await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        let [chile, mexico] = sandbox_banks();
        let served = json!({"id": "cl_banco_conector", "object": "institution",
            "name": "Banco Conector", "country": "cl", "currency": "CLP", "source": "connector",
            "status": "up", "status_since": null, "next_probe_at": null});
        assert_eq!(listed, json!([served, chile, mexico]), "ordered by id");

        // With the built-in banks off, only the connector's.
        let backend = app.backend;
        let connector = app.config.connectors.clone();
        drop(app);
        let app = TestApp::start_with(backend, |c| {
            c.sandbox = false;
            c.connectors = connector;
        })
        .await
        .unwrap();
        let (_, listed) = app.get("/v1/institutions").await;
        assert_eq!(listed, json!([served]));
        stop.cancel();
    }
}
