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
