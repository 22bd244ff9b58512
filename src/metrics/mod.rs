//! Operational metrics in the Prometheus text format, served at `GET /metrics` (see
//! [`crate::operator`]) to a holder of the operator token.
//!
//! Each [`Metrics`] is its own registry (no global recorder), so two apps in one process (the
//! integration tests) keep separate counts. It travels inside the [`crate::store::Store`], the
//! one handle every layer already holds; call sites record through the small methods below, so
//! the names, labels and buckets live in this module alone.
//!
//! Two kinds of series:
//! - counters and histograms recorded where things happen (requests, refreshes, connector
//!   calls, webhook attempts, group commits, waits for a write connection): this process's
//!   own counts since it started, as Prometheus expects of each scraped process;
//! - gauges read from the database at each scrape ([`scrape`]): the job queue and webhook
//!   endpoints are shared by every process, so they are counted where they are stored.
//!
//! No label carries a secret: routes are templates (`/v1/links/:id`), institutions and
//! errors come from fixed lists.

pub mod connector;
mod scrape;

use std::time::Duration;

use metrics::{Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Latency buckets in seconds, from a fast request to a slow bank.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// A whole refresh, from creation to its final status (a second factor can take minutes).
const REFRESH_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0,
];
/// Writes in one group commit (at most 256 share a group).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Metric names, in one place for the recorder, the bucket table and the tests.
pub mod names {
    /// Counter: HTTP requests answered, by `route`, `method` and `status`.
    pub const HTTP_REQUESTS: &str = "refresco_http_requests_total";
    /// Histogram: seconds to answer, by `route` and `method`.
    pub const HTTP_DURATION: &str = "refresco_http_request_duration_seconds";
    /// Counter: refresh intents created, by `mode`.
    pub const INTENTS_CREATED: &str = "refresco_refresh_intents_created_total";
    /// Counter: refresh intents that reached a final status, by `status`, `institution` and
    /// `public_error` (empty when it succeeded).
    pub const INTENTS_FINISHED: &str = "refresco_refresh_intents_finished_total";
    /// Histogram: seconds from an intent's creation to its final status, by `institution`
    /// and `status`.
    pub const REFRESH_DURATION: &str = "refresco_refresh_duration_seconds";
    /// Counter: calls to a bank connector, by `institution`, `operation` and `result`
    /// (`ok` or the connector error's kind).
    pub const CONNECTOR_CALLS: &str = "refresco_connector_calls_total";
    /// Histogram: seconds a connector call took, by `institution` and `operation`.
    pub const CONNECTOR_DURATION: &str = "refresco_connector_call_duration_seconds";
    /// Counter: webhook delivery attempts, by `result` (`delivered`, `retry`, `gave_up`,
    /// `endpoint_disabled`).
    pub const WEBHOOK_ATTEMPTS: &str = "refresco_webhook_attempts_total";
    /// Histogram: seconds a webhook attempt took, by `result`.
    pub const WEBHOOK_DURATION: &str = "refresco_webhook_attempt_duration_seconds";
    /// Histogram: writes committed together by SQLite's group writer.
    pub const GROUP_COMMIT_BATCH: &str = "refresco_group_commit_batch_size";
    /// Histogram: seconds a query or transaction waited for a connection, by `pool` (`read`,
    /// `write`).
    pub const DB_ACQUIRE: &str = "refresco_db_pool_acquire_seconds";
    /// Gauge: database connections, by `pool` (`read`, `write`) and `state` (`in_use`,
    /// `idle`).
    pub const DB_CONNECTIONS: &str = "refresco_db_pool_connections";
    /// Gauge: refresh jobs not done, by `state` (`ready`, `running`, `parked`) and
    /// `institution`.
    pub const JOBS: &str = "refresco_jobs";
    /// Gauge: seconds the oldest job that is due has waited (0 when none waits).
    pub const OLDEST_READY_AGE: &str = "refresco_jobs_oldest_ready_age_seconds";
    /// Gauge: running jobs whose lease expired (their worker died or stalls).
    pub const EXPIRED_LEASES: &str = "refresco_jobs_expired_leases";
    /// Gauge: refreshes parked until the holder gives a second factor.
    pub const PARKED_FOR_MFA: &str = "refresco_refreshes_parked_for_mfa";
    /// Gauge: webhook endpoints disabled (and not deleted).
    pub const ENDPOINTS_DISABLED: &str = "refresco_webhook_endpoints_disabled";
    /// Gauge: webhook deliveries waiting for an attempt.
    pub const DELIVERIES_PENDING: &str = "refresco_webhook_deliveries_pending";
}

/// This process's metrics registry.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    seen_institutions: scrape::SeenInstitutions,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Where recorded series say they come from (the recorder wants it; nothing filters on it).
static METADATA: Metadata<'static> =
    Metadata::new("refresco", metrics::Level::INFO, Some(module_path!()));

impl Metrics {
    /// An empty registry with this module's buckets and descriptions.
    pub fn new() -> Self {
        // Only an empty bucket list is refused, and none of ours is; were one refused, its
        // histograms would be summaries rather than the process failing to start.
        let recorder = Self::builder()
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        let metrics = Self {
            recorder,
            handle,
            seen_institutions: scrape::SeenInstitutions::default(),
        };
        metrics.describe();
        metrics
    }

    fn builder() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in [
            (names::HTTP_DURATION, LATENCY_BUCKETS),
            (names::REFRESH_DURATION, REFRESH_BUCKETS),
            (names::CONNECTOR_DURATION, LATENCY_BUCKETS),
            (names::WEBHOOK_DURATION, LATENCY_BUCKETS),
            (names::DB_ACQUIRE, LATENCY_BUCKETS),
            (names::GROUP_COMMIT_BATCH, BATCH_BUCKETS),
        ] {
            builder = builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)?;
        }
        Ok(builder)
    }

    fn describe(&self) {
        for (name, help) in [
            (
                names::HTTP_REQUESTS,
                "HTTP requests answered, by route template, method and status.",
            ),
            (names::INTENTS_CREATED, "Refresh intents created."),
            (
                names::INTENTS_FINISHED,
                "Refresh intents that reached a final status.",
            ),
            (
                names::CONNECTOR_CALLS,
                "Calls to bank connectors, by result.",
            ),
            (
                names::WEBHOOK_ATTEMPTS,
                "Webhook delivery attempts, by what followed them.",
            ),
        ] {
            self.recorder
                .describe_counter(name.into(), None, help.into());
        }
        for (name, help) in [
            (names::HTTP_DURATION, "Seconds to answer an HTTP request."),
            (
                names::REFRESH_DURATION,
                "Seconds from a refresh intent's creation to its final status.",
            ),
            (
                names::CONNECTOR_DURATION,
                "Seconds a bank connector call took.",
            ),
            (
                names::WEBHOOK_DURATION,
                "Seconds a webhook delivery attempt took.",
            ),
            (
                names::GROUP_COMMIT_BATCH,
                "Writes committed together by the SQLite group writer.",
            ),
            (
                names::DB_ACQUIRE,
                "Seconds a query or transaction waited for a database connection, by pool.",
            ),
        ] {
            self.recorder
                .describe_histogram(name.into(), None, help.into());
        }
        for (name, help) in [
            (
                names::DB_CONNECTIONS,
                "Database connections by pool and state.",
            ),
            (
                names::JOBS,
                "Refresh jobs not done, by state and institution.",
            ),
            (
                names::OLDEST_READY_AGE,
                "Seconds the oldest due refresh job has waited.",
            ),
            (
                names::EXPIRED_LEASES,
                "Running refresh jobs whose lease expired.",
            ),
            (
                names::PARKED_FOR_MFA,
                "Refreshes parked until the holder gives a second factor.",
            ),
            (names::ENDPOINTS_DISABLED, "Webhook endpoints disabled."),
            (
                names::DELIVERIES_PENDING,
                "Webhook deliveries waiting for an attempt.",
            ),
        ] {
            self.recorder.describe_gauge(name.into(), None, help.into());
        }
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>, by: u64) {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
            .increment(by);
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>, value: f64) {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
            .record(value);
    }

    /// Sets a gauge (the scrape's database readings).
    fn gauge(&self, name: &'static str, labels: Vec<Label>, value: f64) {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
            .set(value);
    }

    /// One answered HTTP request; `route` is the matched template, never the raw path.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let (route, method) = (route.to_owned(), method.to_owned());
        self.counter(
            names::HTTP_REQUESTS,
            vec![
                Label::new("route", route.clone()),
                Label::new("method", method.clone()),
                Label::new("status", status.to_string()),
            ],
            1,
        );
        self.histogram(
            names::HTTP_DURATION,
            vec![Label::new("route", route), Label::new("method", method)],
            took.as_secs_f64(),
        );
    }

    /// A refresh intent was created.
    pub fn intent_created(&self, mode: &'static str) {
        self.counter(names::INTENTS_CREATED, vec![Label::new("mode", mode)], 1);
    }

    /// A refresh intent reached `status`, `took` after its creation.
    pub fn intent_finished(
        &self,
        institution: &str,
        status: &'static str,
        public_error: Option<&'static str>,
        took: Duration,
    ) {
        let institution = institution.to_owned();
        self.counter(
            names::INTENTS_FINISHED,
            vec![
                Label::new("status", status),
                Label::new("institution", institution.clone()),
                Label::new("public_error", public_error.unwrap_or("")),
            ],
            1,
        );
        self.histogram(
            names::REFRESH_DURATION,
            vec![
                Label::new("institution", institution),
                Label::new("status", status),
            ],
            took.as_secs_f64(),
        );
    }

    /// The refresh of `work` reached `status` (the engine's one call when it records).
    pub fn refresh_finished(
        &self,
        work: &crate::store::RefreshWork,
        status: crate::domain::IntentStatus,
        public_error: Option<crate::domain::PublicError>,
    ) {
        let took = crate::domain::Timestamp::now().millis() - work.intent.created_at.millis();
        self.intent_finished(
            &work.link.institution.id,
            status.as_str(),
            public_error.map(crate::domain::PublicError::as_str),
            Duration::from_millis(u64::try_from(took).unwrap_or(0)),
        );
    }

    /// A webhook attempt took `took`, and `next` follows it.
    pub fn webhook_attempted(&self, next: &crate::store::AfterAttempt, took: Duration) {
        use crate::store::AfterAttempt;
        let result = match next {
            AfterAttempt::Delivered => "delivered",
            AfterAttempt::RetryAt(_) => "retry",
            AfterAttempt::GiveUp => "gave_up",
            AfterAttempt::DisableEndpoint(_) => "endpoint_disabled",
        };
        self.webhook_attempt(result, took);
    }

    /// One call to a bank connector.
    pub fn connector_call(
        &self,
        institution: &str,
        operation: &'static str,
        result: &'static str,
        took: Duration,
    ) {
        let institution = institution.to_owned();
        self.counter(
            names::CONNECTOR_CALLS,
            vec![
                Label::new("institution", institution.clone()),
                Label::new("operation", operation),
                Label::new("result", result),
            ],
            1,
        );
        self.histogram(
            names::CONNECTOR_DURATION,
            vec![
                Label::new("institution", institution),
                Label::new("operation", operation),
            ],
            took.as_secs_f64(),
        );
    }

    /// One webhook attempt and what followed it.
    pub fn webhook_attempt(&self, result: &'static str, took: Duration) {
        self.counter(
            names::WEBHOOK_ATTEMPTS,
            vec![Label::new("result", result)],
            1,
        );
        self.histogram(
            names::WEBHOOK_DURATION,
            vec![Label::new("result", result)],
            took.as_secs_f64(),
        );
    }

    /// A group commit of `writes` writes.
    pub fn group_commit(&self, writes: usize) {
        #[allow(clippy::cast_precision_loss)] // at most 256
        self.histogram(names::GROUP_COMMIT_BATCH, Vec::new(), writes as f64);
    }

    /// A query or transaction waited `took` for a connection of `pool` (`read` or `write`).
    pub fn db_acquire(&self, pool: &'static str, took: Duration) {
        self.histogram(
            names::DB_ACQUIRE,
            vec![Label::new("pool", pool)],
            took.as_secs_f64(),
        );
    }

    /// The text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}
