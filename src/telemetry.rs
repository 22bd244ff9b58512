//! Structured logs with `tracing`, and optionally the same spans exported over OTLP
//! ([`otlp`]). Secrets never reach a log or a span: they are wrapped in types whose `Debug`
//! redacts them, and handlers and spans record ids, not tokens.

pub mod otlp;

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber, logs only; `RUST_LOG` overrides the default level (`info`).
///
/// Logs go to standard error. Text logs are coloured only when standard error is a terminal
/// (and `NO_COLOR` is unset): a log redirected to a file or a pipe is plain text.
pub fn init(format: LogFormat) {
    let _ = Registry::default().with(log_layer(format)).try_init();
}

/// Installs the global subscriber of a server: its logs, and its spans exported over OTLP
/// when the configuration (or OpenTelemetry's environment) asks for it. The answer flushes
/// the spans not yet sent when the server stops ([`otlp::Exporting::shutdown`]).
pub fn init_server(config: &Config) -> Option<otlp::Exporting> {
    let exporting = otlp::Exporting::start(config);
    let _ = Registry::default()
        .with(log_layer(config.log_format))
        .with(exporting.as_ref().map(|exporting| exporting.layer()))
        .try_init();
    exporting
}

/// The log lines' layer, with its own level filter (`RUST_LOG`): what is logged and what is
/// exported are chosen apart.
fn log_layer(format: LogFormat) -> Box<dyn Layer<Registry> + Send + Sync> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let layer = fmt::layer().with_writer(std::io::stderr).with_ansi(colour);
    match format {
        LogFormat::Text => layer.with_filter(filter).boxed(),
        LogFormat::Json => layer.json().with_filter(filter).boxed(),
    }
}
