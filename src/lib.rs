//! Refresco: a self-hosted, Fintoc-compatible server for on-demand refreshes of bank data.
//!
//! The library builds the whole application from a [`Config`] and an already-bound listener
//! ([`build`]), and runs it until a cancellation token fires ([`App::run`]). The binary is a thin
//! CLI over this, and the integration tests start the very same app on port 0.
//!
//! Map of the crate:
//! - [`config`]: the one typed configuration;
//! - [`api`]: HTTP resources, extractors, pagination, idempotency;
//! - [`server`]: the HTTP serve loop (connection cap, read timeouts, draining);
//! - [`domain`]: typed ids and objects, movement diffing (pure code);
//! - [`store`]: the narrow storage interface over SQLite and PostgreSQL;
//! - [`engine`]: work that talks to banks;
//! - [`connectors`]: the bank interface and the sandbox banks;
//! - [`crypto`]: sealing, token hashing, token generation;
//! - [`tenants`]: organizations and API keys;
//! - [`webhooks`]: signing, the SSRF-guarded client, the dispatcher;
//! - [`metrics`]: this process's Prometheus registry; [`operator`]: `/metrics` and the
//!   operator token; [`dashboard`]: the operator's pages; [`trace_context`]: W3C
//!   `traceparent` from requests to jobs, connectors and webhooks;
//! - [`devtools`]: `listen` and `trigger` for local development.
//!
//! The load scenarios of `BENCHMARKS.md` are a crate of their own, `refresco-bench` (`bench/`),
//! built on this library's public API and on [`store::seeding`], its bulk writes for
//! benchmarks and load tests.

pub mod api;
pub mod config;
pub mod connectors;
pub mod crypto;
pub mod dashboard;
pub mod devtools;
pub mod domain;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod operator;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod trace_context;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::api::AppState;
use crate::config::Role;
use crate::connectors::protocol::load::PendingConnectors;
use crate::connectors::{Registry, SandboxConfig};
use crate::crypto::MasterKey;
use crate::engine::worker::Worker;
use crate::engine::EngineContext;
use crate::store::Store;
use crate::webhooks::dispatcher::Dispatcher;
use crate::webhooks::WebhookContext;

/// A built application, ready to serve on its listener.
pub struct App {
    listener: TcpListener,
    state: AppState,
    /// Connectors whose manifest could not be read at start.
    pending: PendingConnectors,
    /// `metrics_listen`'s listener, bound at build like the main one.
    metrics_listener: Option<TcpListener>,
}

/// Loads the master key from the configuration, or from (or into) `data_dir/master.key`.
pub fn load_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    match &config.master_key {
        Some(key) => Ok(MasterKey::from_base64(key.expose())?),
        None => Ok(MasterKey::load_or_create(
            &config.data_dir.join("master.key"),
        )?),
    }
}

/// Opens the configured database (migrating SQLite, and PostgreSQL when asked).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database()?, config.migrate).await
}

/// The configured banks: the sandbox's (unless `sandbox = false`) and those of every connector
/// whose manifest could be read, with the connectors still to be read.
pub async fn load_connectors(config: &Config) -> anyhow::Result<(Registry, PendingConnectors)> {
    let registry = if config.sandbox {
        Registry::sandbox(SandboxConfig {
            latency: config.sandbox_latency(),
        })
    } else {
        Registry::new()
    }
    .with_sandbox_in_live(config.sandbox_in_live);
    let pending = connectors::protocol::load::load(&registry, &config.connector_targets()?)
        .await
        .context("loading connectors")?;
    Ok((registry, pending))
}

/// Warns when live keys exist and the master key is the file a process generated in the data
/// directory: whoever copies that directory (a backup, a disk, a snapshot of the box) then
/// holds the database's sealed bank credentials and the key that opens them.
async fn warn_of_a_master_key_beside_live_data(
    config: &Config,
    store: &Store,
) -> anyhow::Result<()> {
    if config.master_key.is_none() && store.has_live_keys().await? {
        tracing::warn!(
            master_key = %config.data_dir.join("master.key").display(),
            "live keys exist and the master key is a file in the data directory, beside the \
             data it protects: keep it elsewhere and give it as REFRESCO_MASTER_KEY or \
             master_key (docs/deploy.md, \"The master key\")"
        );
    }
    Ok(())
}

/// Builds the application: opens the database, loads keys and connectors.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<App> {
    let keys = load_master_key(&config).context("loading the master key")?;
    let store = open_store(&config).await?;
    warn_of_a_master_key_beside_live_data(&config, &store).await?;
    let (registry, pending) = load_connectors(&config).await?;
    let (keys, config) = (Arc::new(keys), Arc::new(config));
    let webhooks = Arc::new(WebhookContext {
        store: store.clone(),
        keys: keys.clone(),
        config: config.clone(),
        wake: Arc::new(tokio::sync::Notify::new()),
    });
    let state = AppState {
        engine: Arc::new(EngineContext {
            store,
            keys,
            registry: Arc::new(registry),
            config,
            wake: tokio::sync::Notify::new(),
            webhook_wake: webhooks.wake.clone(),
        }),
        webhooks,
    };
    let metrics_listener = match state.config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding metrics_listen {addr}"))?,
        ),
        None => None,
    };
    Ok(App {
        listener,
        state,
        pending,
        metrics_listener,
    })
}

impl App {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address `GET /metrics` is also served on, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref()?.local_addr().ok()
    }

    /// Shared state (for tests and the CLI).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests, drains the
    /// worker and closes the database. With `role = worker` only the health endpoints are
    /// served; with `role = api` no worker runs.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let role = self.state.config.role;
        let mut background = Vec::new();
        if !self.pending.is_empty() {
            background.push(tokio::spawn(connectors::protocol::load::retry(
                (*self.state.registry).clone(),
                self.pending,
                shutdown.clone(),
            )));
        }
        if role != Role::Api {
            let worker = Worker::new(self.state.engine.clone());
            background.push(tokio::spawn(worker.run(shutdown.clone())));
            let scheduler = engine::scheduler::Scheduler::new(self.state.engine.clone());
            background.push(tokio::spawn(scheduler.run(shutdown.clone())));
            let dispatcher = Dispatcher::new(self.state.webhooks.clone())?;
            background.push(tokio::spawn(dispatcher.run(shutdown.clone())));
        }
        let router = match role {
            Role::Worker => api::health::router()
                .merge(operator::metrics::router())
                .with_state(self.state.clone()),
            Role::Api | Role::All => api::router(self.state.clone()),
        };
        let limits = server::ServerLimits::from_config(&self.state.config);
        if let Some(listener) = self.metrics_listener {
            tracing::info!(addr = %listener.local_addr()?, "serving metrics");
            let router = operator::metrics::router()
                .fallback(api::fallback::not_found)
                .with_state(self.state.clone());
            let limits = server::ServerLimits::from_config(&self.state.config);
            background.push(tokio::spawn(server::serve(
                listener,
                router,
                limits,
                shutdown.clone(),
            )));
        }
        tracing::info!(addr = %self.listener.local_addr()?, "serving");
        server::serve(self.listener, router, limits, shutdown).await;
        for task in background {
            task.await.context("background task")?;
        }
        self.state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}
