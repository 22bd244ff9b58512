//! The checks of a configuration that its types alone cannot make, run once at start: a bad
//! setting stops the start with a message naming it.

use super::{Config, ConfigError};

impl Config {
    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.webhook_concurrency == 0 || self.webhook_per_endpoint_concurrency == 0 {
            return Err(ConfigError(
                "webhook_concurrency and webhook_per_endpoint_concurrency must be at least 1"
                    .into(),
            ));
        }
        if self.webhook_timeout_ms == 0 {
            return Err(ConfigError("webhook_timeout_ms must be at least 1".into()));
        }
        if self.worker_concurrency == 0 {
            return Err(ConfigError("worker_concurrency must be at least 1".into()));
        }
        if self.job_lease_secs == 0
            || self.login_timeout_secs == 0
            || self.mfa_max_attempts == 0
            || self.job_max_attempts == 0
        {
            return Err(ConfigError(
                "job_lease_secs, login_timeout_secs, mfa_max_attempts and job_max_attempts \
                 must be at least 1"
                    .into(),
            ));
        }
        if self.header_read_timeout_secs == 0
            || self.body_read_timeout_secs == 0
            || self.max_connections == 0
            || self.max_requests_in_flight == 0
        {
            return Err(ConfigError(
                "header_read_timeout_secs, body_read_timeout_secs, max_connections and \
                 max_requests_in_flight must be at least 1"
                    .into(),
            ));
        }
        if self.max_concurrent_sessions == 0
            || self
                .max_concurrent_sessions_by_institution
                .values()
                .any(|n| *n == 0)
            || self.breaker_failures == 0
            || self.scheduler_poll_ms == 0
            || self.widget_rate_limit_period_secs == 0
        {
            return Err(ConfigError(
                "max_concurrent_sessions (and each of its overrides), breaker_failures, \
                 scheduler_poll_ms and widget_rate_limit_period_secs must be at least 1"
                    .into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError("max_body_bytes must be at least 1024".into()));
        }
        self.database()?;
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url)
                .map_err(|e| ConfigError(format!("public_url {url:?} is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError(
                    "public_url must start with http:// or https://".into(),
                ));
            }
        }
        self.connector_targets()?;
        if let Some(endpoint) = &self.otlp_endpoint {
            check_otlp_endpoint(endpoint)?;
        }
        if self
            .operator_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().len() < 16)
        {
            return Err(ConfigError(
                "operator_token must be at least 16 characters".into(),
            ));
        }
        if let Some(key) = &self.master_key {
            crate::crypto::MasterKey::from_base64(key.expose())
                .map_err(|e| ConfigError(format!("master_key: {e}")))?;
        }
        Ok(())
    }
}

/// An OTLP endpoint is an http(s) URL without credentials (which the debug log of the
/// configuration would show) and without a query.
fn check_otlp_endpoint(endpoint: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(endpoint)
        .map_err(|e| ConfigError(format!("otlp_endpoint is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError(
            "otlp_endpoint must start with http:// or https://".into(),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(ConfigError(
            "otlp_endpoint must hold no credentials and no query: give a collector's token \
             as OTEL_EXPORTER_OTLP_HEADERS"
                .into(),
        ));
    }
    Ok(())
}
