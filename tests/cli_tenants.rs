//! Organizations and API keys on the real binary: `orgs` and `keys` on the box, and the
//! warning at start when live keys sit beside a generated master key.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

#[path = "common/process.rs"]
mod process;
use process::{get, run, spawn, spawn_fresh, Server};

/// A deployment with live keys whose master key is the generated file in its data directory
/// is warned at start, with where to keep the key instead; one with test keys only, or with
/// its master key given from elsewhere, is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_keys_beside_a_generated_master_key_are_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let warned = |server: &Server| {
        std::fs::read_to_string(&server.stderr)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| {
                l["level"] == "WARN"
                    && l["fields"]["message"].as_str().is_some_and(|m| {
                        m.contains("master key") && m.contains("REFRESCO_MASTER_KEY")
                    })
            })
    };
    let first = spawn_fresh(dir.path(), "test-only");
    assert!(!warned(&first), "test keys only: no warning");
    first.stop();

    let (ok, _, err) = run(
        &[
            "keys",
            "create",
            "--org",
            "acme",
            "--mode",
            "live",
            "--data-dir",
            data_arg,
        ],
        &[],
    );
    assert!(ok, "{err}");
    let live = spawn(dir.path(), "live", &["--data-dir", data_arg], &[]);
    assert!(warned(&live), "live keys beside the generated master key");
    live.stop();

    // The same key given by the environment: nothing to warn of.
    let key = std::fs::read_to_string(data.join("master.key")).unwrap();
    let elsewhere = spawn(
        dir.path(),
        "elsewhere",
        &["--data-dir", data_arg],
        &[("REFRESCO_MASTER_KEY", key.trim().to_owned())],
    );
    assert!(!warned(&elsewhere), "a master key from the environment");
    elsewhere.stop();
}

/// `orgs` and `keys` on the box: an organization, its keys listed by hint, a rotation without
/// overlap and a revocation, seen by a server started afterwards on the same data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_and_keys_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let db = ["--data-dir", data];
    let cli = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(db.iter()).copied().collect();
        let (ok, out, err) = run(&all, &[]);
        assert!(ok, "{args:?}: {err}");
        out
    };
    assert!(cli(&["orgs", "create", "globex"]).contains("globex"));
    let (ok, _, err) = run(&["orgs", "create", "globex", "--data-dir", data], &[]);
    assert!(!ok && err.contains("exists"), "{err}");
    assert!(cli(&["orgs", "list"]).contains("globex"));
    let pair: Value =
        serde_json::from_str(cli(&["keys", "create", "--org", "globex", "--json"]).trim()).unwrap();
    let (secret, public) = (
        pair["secret_key"].as_str().unwrap(),
        pair["public_key"].as_str().unwrap(),
    );
    let listed = cli(&["keys", "list", "--org", "globex"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        !listed.contains(&secret[8..]) && !listed.contains(&public[8..]),
        "keys in a listing: {listed}"
    );
    let line_of = |prefix: &str| {
        listed
            .lines()
            .find(|l| l.contains(prefix))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let (secret_id, public_id) = (line_of("sk_test_"), line_of("pk_test_"));

    let rotated = cli(&["keys", "rotate", &secret_id, "--overlap", "0s"]);
    let replacement = rotated
        .lines()
        .find_map(|l| l.strip_prefix("new key: "))
        .unwrap()
        .to_owned();
    cli(&["keys", "revoke", &public_id]);
    assert!(cli(&["keys", "list", "--org", "globex"]).contains("revoked"));

    let server = spawn(dir.path(), "serve", &["--data-dir", data], &[]);
    let (status, _) = get(&server.addr, secret, "/v1/links").await;
    assert_eq!(status, 401, "rotated without overlap: refused");
    let (status, _) = get(&server.addr, &replacement, "/v1/links").await;
    assert_eq!(status, 200, "its replacement works");
    server.stop();
}
