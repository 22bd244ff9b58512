//! The tools of the browser tests: Debian's Chromium and playwright-core (in
//! `tests/browser/node_modules`, made by `scripts/test` with `npm ci`).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The repository's root.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Chromium to drive: `REFRESCO_CHROMIUM`, or Debian's.
pub fn chromium() -> PathBuf {
    std::env::var_os("REFRESCO_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether the tools are here. Otherwise `what` (the tests that need them) is SKIPPED with a
/// line that says why, or fails in CI (`CI` set, not `false`), where they must run.
pub fn ready(what: &str) -> bool {
    let missing = if !chromium().exists() {
        Some(format!(
            "{} is missing (apt-get install chromium)",
            chromium().display()
        ))
    } else if !repo()
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        Some("tests/browser/node_modules is missing (npm ci in tests/browser)".to_owned())
    } else {
        None
    };
    let Some(missing) = missing else { return true };
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("{what}: {missing}; CI must run them (.ci/run installs both)");
    }
    // Straight to the process's stderr: libtest captures `eprintln!`, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {missing}");
    false
}

/// `node --test` in `tests/browser`, with what every browser test run needs: the Chromium to
/// drive, where to leave screenshots (`artifacts`), loopback reached without a proxy, its
/// output piped, and the process killed if the test ends first. The caller adds its test
/// files and the servers' addresses and keys.
pub fn node_test(artifacts: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("node");
    command
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .current_dir(repo().join("tests/browser"))
        .env("REFRESCO_ARTIFACTS", artifacts)
        .env("REFRESCO_CHROMIUM", chromium())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}
