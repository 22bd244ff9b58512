//! Spans exported over OTLP/HTTP (protobuf), when `otlp_endpoint` or OpenTelemetry's own
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. `tracing-opentelemetry` turns this crate's `tracing`
//! spans (the request, `run_job`, `connector_call`, `webhook_attempt`, the store's and the
//! engine's) into OpenTelemetry spans; their parents across processes come from
//! [`crate::trace_context`].
//!
//! Export never holds up the work: a finished span goes into the batch processor's bounded
//! queue (dropped when it is full) and a thread of its own sends batches; a failed export is
//! logged at `warn` and its spans dropped. [`Exporting::shutdown`] sends what is left.
//!
//! Only spans of this crate, at `info` or above, are exported: what the HTTP client that sends
//! them records must not become spans to send in turn.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::Config;

/// The service name spans carry unless `OTEL_SERVICE_NAME` names another.
pub const SERVICE_NAME: &str = "refresco";

/// OpenTelemetry's variables that turn export on without `otlp_endpoint`.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// A running exporter: the tracer provider whose batch processor sends the spans.
#[derive(Debug)]
pub struct Exporting {
    provider: SdkTracerProvider,
}

impl Exporting {
    /// Starts exporting when the configuration (or the environment) names a collector;
    /// `None` when it does not, or when the exporter cannot be built (logged).
    pub fn start(config: &Config) -> Option<Self> {
        let endpoint = match &config.otlp_endpoint {
            Some(base) => Some(format!("{}/v1/traces", base.trim_end_matches('/'))),
            None if ENDPOINT_VARIABLES
                .iter()
                .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty())) =>
            {
                // The exporter reads them itself (and `OTEL_EXPORTER_OTLP_HEADERS`).
                None
            }
            None => return None,
        };
        let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http();
        if let Some(endpoint) = endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let exporter = match builder.build() {
            Ok(exporter) => exporter,
            Err(e) => {
                tracing::warn!(error = %e, "building the OTLP exporter failed; spans are not exported");
                return None;
            }
        };
        let resource = if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
            Resource::builder().build()
        } else {
            Resource::builder().with_service_name(SERVICE_NAME).build()
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(Logged(exporter))
            .with_resource(resource)
            .build();
        Some(Self { provider })
    }

    /// The layer that turns spans into exported ones, for a subscriber with others beside it.
    pub fn layer<S>(&self) -> impl Layer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(SERVICE_NAME))
            // A `Targets` filter, not a `filter_fn`: with the latter, spans stopped reaching
            // the exporter after the first few in the OTLP test on PostgreSQL.
            .with_filter(Targets::new().with_target("refresco", Level::INFO))
    }

    /// Sends every finished span now (blocking; tests use it to skip the batch delay).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "flushing spans failed");
        }
    }

    /// Sends what is left and stops the exporter's thread.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = stopped {
            tracing::warn!(error = %e, "flushing spans at shutdown failed");
        }
    }
}

/// The OTLP exporter, with its failures logged (once per batch, at `warn`): the collector
/// being away is worth knowing, never worth failing for.
#[derive(Debug)]
struct Logged(opentelemetry_otlp::SpanExporter);

impl SpanExporter for Logged {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.0.export(batch).await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, spans, "exporting spans over OTLP failed; they are dropped");
        }
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
