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

#[cfg(test)]
mod tests {
    // Jail's closures must return figment's own (large) error type.
    #![allow(clippy::result_large_err)]

    use std::path::Path;
    use std::time::Duration;

    use figment::Jail;

    use super::DEFAULT_TIMEOUT;
    use crate::config::Config;

    #[derive(serde::Serialize)]
    struct NoFlags {}

    /// Loads `refresco.toml` written with `toml` in the jail's directory.
    fn load(jail: &mut Jail, toml: &str) -> Result<Config, String> {
        jail.create_file("refresco.toml", toml)
            .map_err(|e| e.to_string())?;
        Config::load(Some(Path::new("refresco.toml")), &NoFlags {}).map_err(|e| e.to_string())
    }

    /// Each target as (url, token, timeout).
    fn targets(config: &Config) -> Vec<(String, String, Duration)> {
        config
            .connector_targets()
            .unwrap()
            .into_iter()
            .map(|t| (t.url, t.token.expose().to_owned(), t.timeout))
            .collect()
    }

    #[test]
    fn tables_take_a_timeout_as_text_or_as_seconds() {
        Jail::expect_with(|jail| {
            let config = load(
                jail,
                r#"
                connector_token = "shared"

                [[connectors]]
                url = "http://127.0.0.1:7070"
                token = "its-own"
                timeout = "2s"

                [[connectors]]
                url = "https://bank.example/connector/"
                timeout = 5

                [[connectors]]
                url = "http://10.0.0.9:7000"
                timeout = "1m 500ms"

                [[connectors]]
                url = "http://10.0.0.9:7001"
                "#,
            )?;
            let s = |secs| Duration::from_secs(secs);
            assert_eq!(
                targets(&config),
                [
                    ("http://127.0.0.1:7070".into(), "its-own".into(), s(2)),
                    (
                        "https://bank.example/connector/".into(),
                        "shared".into(),
                        s(5)
                    ),
                    (
                        "http://10.0.0.9:7000".into(),
                        "shared".into(),
                        s(60) + Duration::from_millis(500)
                    ),
                    (
                        "http://10.0.0.9:7001".into(),
                        "shared".into(),
                        DEFAULT_TIMEOUT
                    ),
                ]
            );
            let error = load(
                jail,
                "[[connectors]]\nurl = \"http://a:1\"\ntoken = \"t\"\ntimeout = \"soon\"\n",
            )
            .unwrap_err();
            assert!(error.contains("\"soon\" is not a duration"), "{error}");
            let error = load(
                jail,
                "[[connectors]]\nurl = \"http://a:1\"\ntoken = \"t\"\ntimeout = 0\n",
            )
            .unwrap_err();
            assert!(error.contains("timeout must be above zero"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn urls_from_the_environment_take_the_connector_token() {
        Jail::expect_with(|jail| {
            jail.set_env("REFRESCO_CONNECTORS", "http://a:1, http://b:2");
            jail.set_env("REFRESCO_CONNECTOR_TOKEN", "from-the-environment");
            let config = Config::load(None, &NoFlags {}).map_err(|e| e.to_string())?;
            assert_eq!(config.connector_urls, ["http://a:1", "http://b:2"]);
            let token = "from-the-environment".to_owned();
            assert_eq!(
                targets(&config),
                [
                    ("http://a:1".into(), token.clone(), DEFAULT_TIMEOUT),
                    ("http://b:2".into(), token, DEFAULT_TIMEOUT),
                ]
            );
            Ok(())
        });
    }

    #[test]
    fn a_connector_without_a_token_is_a_configuration_error() {
        Jail::expect_with(|jail| {
            for toml in [
                "[[connectors]]\nurl = \"http://127.0.0.1:7070\"\n",
                "[[connectors]]\nurl = \"http://127.0.0.1:7070\"\ntoken = \"\"\n",
                "connector_urls = [\"http://127.0.0.1:7070\"]\n",
            ] {
                let error = load(jail, toml).unwrap_err();
                assert!(
                    error.starts_with(
                        "invalid configuration: connector http://127.0.0.1:7070 has no token"
                    ) && error.contains("REFRESCO_CONNECTOR_TOKEN"),
                    "{toml}: {error}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn only_http_and_https_urls_are_connectors() {
        Jail::expect_with(|jail| {
            for url in [
                "ftp://127.0.0.1:7070",
                "unix:/run/connector.sock",
                "file:///etc/passwd",
            ] {
                let toml = format!("[[connectors]]\nurl = \"{url}\"\ntoken = \"t\"\n");
                let error = load(jail, &toml).unwrap_err();
                assert!(
                    error.contains("must start with http:// or https://"),
                    "{url}: {error}"
                );
            }
            let error = load(
                jail,
                "[[connectors]]\nurl = \"127.0.0.1:7070\"\ntoken = \"t\"\n",
            )
            .unwrap_err();
            assert!(error.contains("127.0.0.1:7070"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn connector_tokens_never_show_in_debug_output() {
        Jail::expect_with(|jail| {
            let config = load(
                jail,
                r#"
                connector_token = "shared-s3cret"
                [[connectors]]
                url = "http://127.0.0.1:7070"
                token = "table-s3cret"
                "#,
            )?;
            let printed = format!("{config:?} {:?}", config.connector_targets());
            assert!(!printed.contains("s3cret"), "{printed}");
            assert!(printed.contains("http://127.0.0.1:7070") && printed.contains("[redacted]"));
            Ok(())
        });
    }
}
