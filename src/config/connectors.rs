//! Out-of-process connectors in the configuration: `[[connectors]]` tables, the repeatable
//! `--connector URL` flag, and `REFRESCO_CONNECTORS` (comma-separated URLs), with
//! `connector_token` (`REFRESCO_CONNECTOR_TOKEN`) for the connectors given without a token of
//! their own.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConfigError, Secret};

/// How long a call to a connector may take unless its table says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One `[[connectors]]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Where the connector service listens, e.g. `http://127.0.0.1:7000`.
    pub url: String,
    /// The bearer token it expects; `connector_token` when absent.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Longest a call may take: `60s`, `2m`, `500ms`, or a number of seconds.
    #[serde(
        default,
        serialize_with = "serialize_duration",
        deserialize_with = "deserialize_duration"
    )]
    pub timeout: Option<Duration>,
}

/// A connector to load: where it is, its token and its timeout.
#[derive(Clone, Debug)]
pub struct ConnectorTarget {
    /// The service's URL.
    pub url: String,
    /// The bearer token.
    pub token: Secret,
    /// Longest a call may take.
    pub timeout: Duration,
}

/// Every configured connector, tables first, then the URLs given by flag or variable.
pub(super) fn targets(
    tables: &[ConnectorConfig],
    urls: &[String],
    shared_token: Option<&Secret>,
) -> Result<Vec<ConnectorTarget>, ConfigError> {
    let from_urls = urls.iter().map(|url| ConnectorConfig {
        url: url.clone(),
        token: None,
        timeout: None,
    });
    let mut targets: Vec<ConnectorTarget> = Vec::new();
    for table in tables.iter().cloned().chain(from_urls) {
        let parsed = url::Url::parse(&table.url)
            .map_err(|e| ConfigError(format!("connector URL {:?}: {e}", table.url)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError(format!(
                "connector URL {:?} must start with http:// or https://",
                table.url
            )));
        }
        let token = table.token.or_else(|| shared_token.cloned());
        let Some(token) = token.filter(|t| !t.expose().is_empty()) else {
            return Err(ConfigError(format!(
                "connector {} has no token: give its table a token, or set connector_token \
                 (REFRESCO_CONNECTOR_TOKEN)",
                table.url
            )));
        };
        if targets.iter().any(|t| t.url == table.url) {
            return Err(ConfigError(format!(
                "connector {} is configured twice",
                table.url
            )));
        }
        let timeout = table.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(ConfigError(format!(
                "connector {}: timeout must be above zero",
                table.url
            )));
        }
        targets.push(ConnectorTarget {
            url: table.url,
            token,
            timeout,
        });
    }
    Ok(targets)
}

fn serialize_duration<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        None => s.serialize_none(),
    }
}

fn deserialize_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Seconds(u64),
        Human(String),
    }
    match Option::<Text>::deserialize(d)? {
        None => Ok(None),
        Some(Text::Seconds(secs)) => Ok(Some(Duration::from_secs(secs))),
        Some(Text::Human(text)) => humantime::parse_duration(&text)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not a duration: {e}"))),
    }
}

/// URLs as a list, or as one comma-separated string (how an environment variable gives them).
pub(super) fn deserialize_urls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Urls {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Urls::deserialize(d)? {
        Urls::List(list) => list,
        Urls::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
