//! Tests of loading and validating the configuration.

use super::*;

#[derive(Serialize)]
struct NoFlags {}

#[test]
fn secrets_are_redacted_in_debug() {
    let config = Config {
        database_url: Some(Secret::new("postgres://user:hunter2@db/x")),
        master_key: Some(Secret::new("c2VjcmV0")),
        ..Config::default()
    };
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(!printed.contains("c2VjcmV0"), "{printed}");
    assert!(printed.contains("[redacted]"));
}

#[test]
fn layers_apply_in_order_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresco.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nsandbox_latency_ms = 5\n",
    )
    .unwrap();
    #[derive(Serialize)]
    struct Flags {
        sandbox_latency_ms: u64,
    }
    let config = Config::load(
        Some(&file),
        &Flags {
            sandbox_latency_ms: 7,
        },
    )
    .unwrap();
    assert_eq!(config.listen.port(), 9000, "file overrides default");
    assert_eq!(config.sandbox_latency_ms, 7, "flag overrides file");
}

#[test]
// Jail's closure must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
fn every_setting_and_only_settings_come_from_the_environment() {
    let names = setting_names();
    for name in [
        "listen",
        "database_url",
        "worker_concurrency",
        "webhook_allow_private_in_test",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    figment::Jail::expect_with(|jail| {
        jail.set_env("REFRESCO_WORKER_CONCURRENCY", "3");
        jail.set_env("REFRESCO_OVERLOAD_RETRY_AFTER_SECS", "9");
        // Not settings (the test suite's own variables): ignored, not refused.
        jail.set_env("REFRESCO_TEST_POSTGRES_URL", "postgres://elsewhere/test");
        jail.set_env("REFRESCO_NOT_A_SETTING", "x");
        let config = Config::load(None, &NoFlags {}).map_err(|e| e.to_string())?;
        assert_eq!(config.worker_concurrency, 3);
        assert_eq!(config.overload_retry_after_secs, 9);
        Ok(())
    });
}

#[test]
fn bad_values_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "database_url = \"mysql://x\"\n").unwrap();
    let err = Config::load(Some(&file), &NoFlags {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("postgres://"), "{err}");
    std::fs::write(&file, "listen = \"not an address\"\n").unwrap();
    assert!(Config::load(Some(&file), &NoFlags {}).is_err());
    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let err = Config::load(Some(&file), &NoFlags {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("lisen"), "unknown keys are named: {err}");
    // A login that may take no time at all could never reach its bank.
    std::fs::write(&file, "login_timeout_secs = 0\n").unwrap();
    let err = Config::load(Some(&file), &NoFlags {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("login_timeout_secs"), "{err}");
}

#[test]
fn otlp_export_is_off_by_default_and_its_endpoint_is_checked() {
    assert_eq!(Config::default().otlp_endpoint, None);
    let with = |endpoint: &str| Config {
        otlp_endpoint: Some(endpoint.to_owned()),
        ..Config::default()
    };
    assert!(with("http://127.0.0.1:4318").validate().is_ok());
    assert!(with("https://collector.example/otlp").validate().is_ok());
    for bad in [
        "not a url",
        "grpc://127.0.0.1:4317",
        "https://user:hunter2@collector.example",
        "https://collector.example?token=hunter2",
    ] {
        let err = with(bad).validate().unwrap_err().to_string();
        assert!(err.contains("otlp_endpoint"), "{bad}: {err}");
        assert!(!err.contains("hunter2"), "{bad}: {err}");
    }
}

#[test]
// Jail's closure must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
fn the_otlp_endpoint_comes_from_the_file_or_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "refresco.toml",
            "otlp_endpoint = \"http://10.0.0.1:4318\"\n",
        )?;
        let file = jail.directory().join("refresco.toml");
        let config = Config::load(Some(&file), &NoFlags {}).map_err(|e| e.to_string())?;
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://10.0.0.1:4318")
        );
        jail.set_env("REFRESCO_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let config = Config::load(Some(&file), &NoFlags {}).map_err(|e| e.to_string())?;
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        Ok(())
    });
}
