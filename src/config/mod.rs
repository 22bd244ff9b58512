//! One typed configuration, layered: defaults < optional TOML file < `REFRESCO_*` environment
//! < command-line flags. Validated once at start; secrets never appear in `Debug` output.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

mod connectors;
mod validate;

pub use connectors::{
    ConnectorConfig, ConnectorTarget, DEFAULT_TIMEOUT as DEFAULT_CONNECTOR_TIMEOUT,
};

/// A value that must never be printed: `Debug` and `Display` show `"[redacted]"`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// Which parts of Refresco a process runs (`serve --role`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Only the HTTP API (and widget).
    Api,
    /// Only the background workers.
    Worker,
    /// Everything in one process (the default).
    #[default]
    All,
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The whole configuration of a Refresco process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds to (`--listen`, `REFRESCO_LISTEN`).
    pub listen: SocketAddr,
    /// Directory holding the embedded SQLite database and the generated master key
    /// (`--data-dir`, `REFRESCO_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; `sqlite://…` an explicit SQLite file; unset means the
    /// embedded SQLite database in `data_dir` (`--database-url`, `REFRESCO_DATABASE_URL`).
    pub database_url: Option<Secret>,
    /// Apply pending PostgreSQL migrations at start (`serve --migrate`). SQLite always migrates.
    pub migrate: bool,
    /// Base64 of the 32-byte master key that seals bank credentials and keys token hashes. When
    /// unset, a key is generated into `data_dir/master.key` (mode 0600) on first start.
    pub master_key: Option<Secret>,
    /// Public base URL used in absolute `Link` pagination headers (for example behind a proxy).
    /// When unset, it is built from the request's `Host` header over plain http.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes; larger bodies get a 413 error (at once when the
    /// request declares a larger `Content-Length`).
    pub max_body_bytes: usize,
    /// Seconds a connection has to send a complete request head (request line and headers);
    /// the connection is closed when it has not. It also bounds how long an idle keep-alive
    /// connection stays open between two requests.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may go without a byte arriving; then the request is answered 408
    /// `request_timeout` and its connection closed.
    pub body_read_timeout_secs: u64,
    /// Open connections one process serves at the same time. At the cap the server stops
    /// accepting until a connection closes: new connections wait in the kernel's listen backlog.
    /// Keep it below the process's open-file limit (`ulimit -n`).
    pub max_connections: usize,
    /// Requests one process handles at the same time (`/healthz` and `/readyz` are not counted).
    /// Beyond it a request is answered at once with 503 `server_overloaded` and `Retry-After`.
    pub max_requests_in_flight: usize,
    /// Seconds sent in `Retry-After` with a 503 `server_overloaded`.
    pub overload_retry_after_secs: u64,
    /// Which parts this process runs.
    pub role: Role,
    /// Log format.
    pub log_format: LogFormat,
    /// Extra latency added to every call to a sandbox bank, in milliseconds.
    pub sandbox_latency_ms: u64,
    /// Serve the built-in sandbox banks (`false` for a live-only deployment).
    pub sandbox: bool,
    /// Offer the sandbox banks to live mode too (live keys, live widgets). Off by default: a
    /// real person choosing their bank must not be offered a fake one.
    pub sandbox_in_live: bool,
    /// Out-of-process connectors (`[[connectors]]` tables in the file).
    pub connectors: Vec<ConnectorConfig>,
    /// More connectors by URL alone (`--connector URL`, repeatable; `REFRESCO_CONNECTORS`,
    /// comma-separated), called with `connector_token`.
    #[serde(deserialize_with = "connectors::deserialize_urls")]
    pub connector_urls: Vec<String>,
    /// The token of connectors configured without one (`REFRESCO_CONNECTOR_TOKEN`).
    pub connector_token: Option<Secret>,
    /// Seconds after a successful `only_last` refresh before the link may be refreshed again.
    pub cooldown_only_last_secs: u64,
    /// Seconds after a successful `historical` refresh before the link may be refreshed again.
    pub cooldown_historical_secs: u64,
    /// Seconds the holder has to answer a second-factor challenge.
    pub mfa_timeout_secs: u64,
    /// Wrong second-factor answers allowed before the refresh fails.
    pub mfa_max_attempts: u32,
    /// Seconds from creation after which an unfinished refresh fails with `retryable_error`.
    pub refresh_timeout_secs: u64,
    /// Refreshes one worker process runs at the same time.
    pub worker_concurrency: usize,
    /// Seconds a worker's lease on a job lasts without a heartbeat; a dead worker's jobs are
    /// taken over after this.
    pub job_lease_secs: u64,
    /// How often an idle worker looks for jobs, in milliseconds.
    pub worker_poll_ms: u64,
    /// Times a job may be started (crashes included) before its refresh fails.
    pub job_max_attempts: u32,
    /// Seconds a stopping worker waits for in-flight refreshes before leaving them to others.
    pub shutdown_drain_secs: u64,
    /// Seconds a link intent's widget token and exchange token stay usable after creation
    /// (Fintoc's `exchange_token_expires_at`; 30 minutes in its documented example).
    pub link_intent_ttl_secs: u64,
    /// Milliseconds a webhook receiver has to answer one attempt.
    pub webhook_timeout_ms: u64,
    /// Milliseconds before the first retry of a failed delivery; each retry doubles it.
    pub webhook_retry_base_ms: u64,
    /// Retries after the first attempt before a delivery is given up.
    pub webhook_max_retries: u32,
    /// Longest wait between two attempts, in seconds (also caps `Retry-After`).
    pub webhook_max_backoff_secs: u64,
    /// An endpoint whose deliveries have failed continuously for this many seconds is disabled.
    pub webhook_disable_after_secs: u64,
    /// Deliveries one process sends at the same time.
    pub webhook_concurrency: usize,
    /// Deliveries in flight to one endpoint at the same time (a slow endpoint cannot take more).
    pub webhook_per_endpoint_concurrency: u32,
    /// Let every endpoint reach loopback, private and link-local addresses.
    pub webhook_allow_private: bool,
    /// Let test-mode endpoints reach them (a receiver on a developer's localhost).
    pub webhook_allow_private_in_test: bool,
    /// The token that opens `GET /metrics` (as `Authorization: Bearer …`) and the operator
    /// dashboard at `/dashboard` (`REFRESCO_OPERATOR_TOKEN`). Unset, both are off.
    pub operator_token: Option<Secret>,
    /// Also serve `GET /metrics`, and only it, on this address (an internal interface for
    /// Prometheus, say); it still asks for the operator token (`REFRESCO_METRICS_LISTEN`).
    pub metrics_listen: Option<SocketAddr>,
    /// Export spans over OTLP/HTTP (protobuf) to the collector at this base URL, for example
    /// `http://127.0.0.1:4318` (spans go to `…/v1/traces`; `REFRESCO_OTLP_ENDPOINT`). Unset,
    /// spans are exported only when OpenTelemetry's own `OTEL_EXPORTER_OTLP_ENDPOINT` (or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Credentials go in
    /// `OTEL_EXPORTER_OTLP_HEADERS`, never in the URL. See docs/operations.md, "Traces".
    pub otlp_endpoint: Option<String>,
    /// Milliseconds between two scheduled refreshes of an active link (each due time gets
    /// a jitter of a tenth either way, so links created together spread out); 0 turns the
    /// schedule off. See docs/politeness.md.
    pub refresh_interval_ms: u64,
    /// `refresh_interval_ms` for some organizations (`org_…` id → milliseconds; 0 turns
    /// their schedule off).
    pub refresh_interval_by_organization: BTreeMap<String, u64>,
    /// How often a scheduler looks for links that are due, in milliseconds.
    pub scheduler_poll_ms: u64,
    /// Logins and fetches one institution serves at once, across every worker process of
    /// the database, unless `max_concurrent_sessions_by_institution` names it.
    pub max_concurrent_sessions: u32,
    /// `max_concurrent_sessions` for some institutions (institution id → sessions).
    pub max_concurrent_sessions_by_institution: BTreeMap<String, u32>,
    /// Milliseconds a login of link creation (API, CLI, widget) waits for a free session
    /// slot of its institution before it is answered 503 `unavailable_institution`.
    pub login_slot_wait_ms: u64,
    /// Seconds a login of link creation may take with the bank calls that follow it (the
    /// lease of its session slot); past that it is answered 503 `unavailable_institution`.
    pub login_timeout_secs: u64,
    /// Consecutive `unavailable` answers of an institution that open its circuit breaker.
    pub breaker_failures: u32,
    /// Milliseconds a breaker stays open the first time; each failed probe doubles it.
    pub breaker_backoff_ms: u64,
    /// Longest a breaker stays open before its next probe, in milliseconds.
    pub breaker_max_backoff_ms: u64,
    /// API requests one organization may make per second in one mode, per API process
    /// (a token bucket with this burst); 0 turns the API limit off.
    pub api_rate_limit_per_sec: u32,
    /// Requests to the widget's connection endpoints one organization may make per
    /// `widget_rate_limit_period_secs`, per API process; 0 turns the limit off.
    pub widget_rate_limit: u32,
    /// The period of `widget_rate_limit`, in seconds.
    pub widget_rate_limit_period_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./refresco-data"),
            database_url: None,
            migrate: false,
            master_key: None,
            public_url: None,
            max_body_bytes: 1024 * 1024,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            max_connections: 4096,
            max_requests_in_flight: 256,
            overload_retry_after_secs: 1,
            role: Role::All,
            log_format: LogFormat::Text,
            sandbox_latency_ms: 0,
            sandbox: true,
            sandbox_in_live: false,
            connectors: Vec::new(),
            connector_urls: Vec::new(),
            connector_token: None,
            cooldown_only_last_secs: 5 * 60,
            cooldown_historical_secs: 60 * 60,
            mfa_timeout_secs: 10 * 60,
            mfa_max_attempts: 3,
            refresh_timeout_secs: 15 * 60,
            worker_concurrency: 64,
            job_lease_secs: 30,
            worker_poll_ms: 250,
            job_max_attempts: 5,
            shutdown_drain_secs: 30,
            link_intent_ttl_secs: 30 * 60,
            webhook_timeout_ms: 10_000,
            webhook_retry_base_ms: 3_000,
            webhook_max_retries: 17,
            webhook_max_backoff_secs: 6 * 60 * 60,
            webhook_disable_after_secs: 3 * 24 * 60 * 60,
            webhook_concurrency: 64,
            webhook_per_endpoint_concurrency: 4,
            webhook_allow_private: false,
            webhook_allow_private_in_test: true,
            operator_token: None,
            metrics_listen: None,
            otlp_endpoint: None,
            refresh_interval_ms: 8 * 60 * 60 * 1000,
            refresh_interval_by_organization: BTreeMap::new(),
            scheduler_poll_ms: 1000,
            max_concurrent_sessions: 8,
            max_concurrent_sessions_by_institution: BTreeMap::new(),
            login_slot_wait_ms: 10_000,
            // Three connector calls (login, a second factor given up front, the accounts) at
            // their default timeout of 60 s each.
            login_timeout_secs: 180,
            breaker_failures: 5,
            breaker_backoff_ms: 30_000,
            breaker_max_backoff_ms: 30 * 60 * 1000,
            api_rate_limit_per_sec: 100,
            widget_rate_limit: 100,
            widget_rate_limit_period_secs: 130,
        }
    }
}

/// The database a configuration points at, decided once from the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (kept secret: it may hold a password).
    Postgres(Secret),
}

/// Every setting's name, read off `Config` itself (its serialized fields), so no list is kept
/// by hand: a `REFRESCO_<NAME>` variable is read when `<name>` is one of them. Other
/// `REFRESCO_*` variables (for example the test suite's) are not configuration and must not
/// trip `deny_unknown_fields`.
fn setting_names() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// A configuration problem, explained for a person.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads the layers: defaults, then `file` (TOML) when given, then `REFRESCO_*` variables,
    /// then `overrides` (the command-line flags that were actually passed), and validates.
    pub fn load(file: Option<&Path>, overrides: &impl Serialize) -> Result<Self, ConfigError> {
        let names = setting_names();
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(
                Env::prefixed("REFRESCO_")
                    // `connectors` holds tables; the variable of that name lists URLs.
                    .map(|key| {
                        if key == "connectors" {
                            "connector_urls".into()
                        } else {
                            key.into()
                        }
                    })
                    .filter(move |key| names.iter().any(|name| key == name.as_str())),
            )
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The database to use, from `database_url` or the data directory.
    pub fn database(&self) -> Result<DatabaseTarget, ConfigError> {
        let Some(url) = &self.database_url else {
            return Ok(DatabaseTarget::Sqlite(self.data_dir.join("refresco.db")));
        };
        let url = url.expose();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseTarget::Postgres(Secret::new(url)))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(DatabaseTarget::Sqlite(PathBuf::from(path)))
        } else {
            Err(ConfigError(
                "database_url must start with postgres:// or sqlite:// (leave it unset for the \
                 embedded SQLite database in data_dir)"
                    .into(),
            ))
        }
    }

    /// The out-of-process connectors to load, each with its token and timeout.
    pub fn connector_targets(&self) -> Result<Vec<ConnectorTarget>, ConfigError> {
        connectors::targets(
            &self.connectors,
            &self.connector_urls,
            self.connector_token.as_ref(),
        )
    }

    /// Cooldowns after successful refreshes.
    pub fn cooldowns(&self) -> crate::domain::Cooldowns {
        crate::domain::Cooldowns {
            only_last_millis: secs_to_millis(self.cooldown_only_last_secs),
            historical_millis: secs_to_millis(self.cooldown_historical_secs),
        }
    }

    /// The schedule's interval for links of `organization`, in milliseconds (0: none).
    pub fn refresh_interval_for(&self, organization: &str) -> u64 {
        self.refresh_interval_by_organization
            .get(organization)
            .copied()
            .unwrap_or(self.refresh_interval_ms)
    }

    /// The cap on concurrent sessions at `institution`.
    pub fn max_sessions_for(&self, institution: &str) -> u32 {
        self.max_concurrent_sessions_by_institution
            .get(institution)
            .copied()
            .unwrap_or(self.max_concurrent_sessions)
    }

    /// Extra latency for sandbox banks.
    pub fn sandbox_latency(&self) -> Duration {
        Duration::from_millis(self.sandbox_latency_ms)
    }
}

fn secs_to_millis(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
