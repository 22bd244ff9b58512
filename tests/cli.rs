//! The command line on the real binary: keys, links, migrations, configuration errors, and the
//! keys printed on the first start.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/process.rs"]
mod process;
#[path = "common/receiver.rs"]
mod receiver;
use process::{get, run, spawn, spawn_fresh};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_links_from_the_cli_work_against_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let (ok, out, err) = run(
        &[
            "keys",
            "create",
            "--org",
            "acme",
            "--json",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(ok, "{err}");
    let keys: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    let secret = keys["secret_key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_test_"));
    assert!(keys["public_key"].as_str().unwrap().starts_with("pk_test_"));

    let (ok, out, _) = run(
        &[
            "keys",
            "create",
            "--org",
            "acme",
            "--mode",
            "live",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(ok);
    assert!(
        out.contains("sk_live_") && out.contains("pk_live_"),
        "{out}"
    );

    // The password from the environment keeps it out of the process list and shell history.
    let (ok, out, err) = run(
        &[
            "links",
            "create",
            "--institution",
            "cl_banco_sandbox",
            "--username",
            "41614850-3",
            "--org",
            "acme",
            "--json",
            "--data-dir",
            data,
        ],
        &[("REFRESCO_BANK_PASSWORD", "jonsnow")],
    );
    assert!(ok, "{err}");
    let link: Value = serde_json::from_str(&out).unwrap();
    let token = link["link_token"].as_str().unwrap().to_owned();
    assert!(!err.contains("jonsnow"), "the password is never logged");

    let (ok, _, err) = run(
        &[
            "links",
            "create",
            "--institution",
            "cl_banco_sandbox",
            "--username",
            "41614850-3",
            "--password",
            "nope",
            "--org",
            "acme",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("rejected the username or password"), "{err}");

    // An existing organization: the server does not create the default one or print keys.
    let server = spawn(dir.path(), "serve", &["--data-dir", data], &[]);
    assert!(!std::fs::read_to_string(&server.stdout)
        .unwrap()
        .contains("secret key"));
    let (status, got) = get(&server.addr, &secret, &format!("/v1/links/{token}")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], link["id"]);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_prints_working_keys_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let first = spawn(dir.path(), "first", &["--data-dir", data], &[]);
    let key = first.secret_key();
    let (status, _) = get(&first.addr, &key, "/v1/links").await;
    assert_eq!(status, 200);
    let log = std::fs::read_to_string(&first.stderr).unwrap();
    assert!(
        !log.contains(&key),
        "keys are printed on stdout for the person, never logged"
    );
    first.stop();
    let second = spawn(dir.path(), "second", &["--data-dir", data], &[]);
    assert!(!std::fs::read_to_string(&second.stdout)
        .unwrap()
        .contains("secret key"));
    let (status, _) = get(&second.addr, &key, "/v1/links").await;
    assert_eq!(status, 200, "the key survives restarts");
    second.stop();
}

#[test]
fn configuration_errors_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (ok, _, err) = run(
        &["serve", "--data-dir", data, "--database-url", "mysql://x"],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("postgres://"), "{err}");
    let (ok, _, err) = run(
        &["serve", "--data-dir", data],
        &[("REFRESCO_LISTEN", "not-an-address")],
    );
    assert!(!ok);
    assert!(
        err.to_lowercase().contains("listen"),
        "names the setting: {err}"
    );
    let file = dir.path().join("refresco.toml");
    std::fs::write(&file, "worker_concurrency = 0\n").unwrap();
    let (ok, _, err) = run(
        &[
            "--config",
            file.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("worker_concurrency"), "{err}");
    let (ok, _, err) = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--database-url",
            "postgres://u:hunter2@127.0.0.1:1/x",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("connecting to PostgreSQL"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the database password is never echoed: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_needs_migrations_before_serving() {
    let Some(database) = postgres::fresh_database("cli").await else {
        return;
    };
    let url = database.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();

    let (ok, _, err) = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--database-url",
            &url,
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("refresco migrate"), "{err}");
    let (ok, out, err) = run(
        &["migrate", "--data-dir", data, "--database-url", &url],
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.contains("migrations applied"));
    let server = spawn(
        dir.path(),
        "pg",
        &["--data-dir", data, "--database-url", &url],
        &[],
    );
    let key = server.secret_key();
    assert_eq!(get(&server.addr, &key, "/readyz").await.0, 200);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_forwards_signed_events_and_trigger_fires_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_fresh(dir.path(), "serve");
    let key = server.secret_key();
    let hook = receiver::Receiver::start().await;
    let out = dir.path().join("listen.out");
    let mut listen = std::process::Command::new(env!("CARGO_BIN_EXE_refresco"))
        .args([
            "listen",
            "--url",
            &server.addr,
            "--forward-to",
            &hook.url,
            "--events",
            "link.credentials_changed,link.refresh_intent.failed",
        ])
        .env("REFRESCO_API_KEY", &key)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The secret is printed first; wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let secret = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(secret) = text.split_whitespace().find(|w| w.starts_with("whsec_")) {
            break secret.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "listen did not start: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let trigger = |event_type: &str| {
        run(
            &["trigger", event_type, "--url", &server.addr],
            &[("REFRESCO_API_KEY", key.as_str())],
        )
    };
    let (ok, printed, err) = trigger("account.refresh_intent.succeeded");
    assert!(ok, "{err}");
    let filtered_out: Value = serde_json::from_str(&printed).unwrap();
    let (ok, printed, _) = trigger("link.credentials_changed");
    assert!(ok);
    let wanted: Value = serde_json::from_str(&printed).unwrap();

    let received = hook.wait_for(|r| !r.is_empty()).await;
    receiver::verify(&received[0], &secret);
    assert_eq!(received[0].json()["id"], wanted["id"]);
    assert!(
        received
            .iter()
            .all(|d| d.json()["id"] != filtered_out["id"]),
        "--events filters"
    );
    let (ok, _, err) = trigger("no.such.type");
    assert!(!ok && err.contains("Unknown event type"), "{err}");
    listen.kill().unwrap();
    listen.wait().unwrap();
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(
        printed.contains("link.credentials_changed") && printed.contains("-> 200"),
        "{printed}"
    );
    server.stop();
}

/// The server's memory is not backed by transparent huge pages (mimalloc's `no_thp` feature,
/// see `main.rs`): mimalloc asked for them on its arenas, and each 2 MiB an arena touched
/// became resident at once (an idle server held 36 MB, 18 of them huge pages; 17 MB without).
/// Only the kernel's `madvise` mode shows it: under `never` there are none anyway, and under
/// `always` the kernel uses them without being asked.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_does_not_ask_for_transparent_huge_pages() {
    let mode =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !mode.contains("[madvise]") {
        eprintln!("skipped: transparent huge pages are {mode:?} here, not madvise");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_fresh(dir.path(), "thp");
    let key = server.secret_key();
    let (status, _) = get(&server.addr, &key, "/v1/links").await;
    assert_eq!(status, 200);
    let memory =
        std::fs::read_to_string(format!("/proc/{}/smaps_rollup", server.child.id())).unwrap();
    server.stop();
    let huge = memory
        .lines()
        .find(|l| l.starts_with("AnonHugePages:"))
        .expect("smaps_rollup reports AnonHugePages");
    assert_eq!(huge.split_whitespace().nth(1), Some("0"), "{memory}");
}

/// Starts `serve` with text logs, stdout and stderr both pipes and `RUST_LOG` as given, waits
/// for it to serve, stops it; returns (stdout, stderr).
fn serve_to_pipes(rust_log: Option<&str>) -> (String, String) {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_refresco"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "text"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("serving") {
        let read = stderr.read_line(&mut log).unwrap();
        assert!(read > 0, "the server stopped before serving:\n{log}");
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    stderr.read_to_string(&mut log).unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    (out, log)
}

#[test]
fn logs_to_a_pipe_are_plain_text_without_the_configuration() {
    let (out, log) = serve_to_pipes(None);
    assert!(out.contains("secret key"), "{out}");
    for text in [&out, &log] {
        assert!(!text.contains("\x1b["), "no colour codes: {text:?}");
    }
    assert!(log.contains("starting"), "{log}");
    assert!(
        !log.contains("Config {"),
        "the configuration is not dumped at the default level:\n{log}"
    );
    // At debug level it is there (so the check above looks for the right thing), redacted.
    let (_, log) = serve_to_pipes(Some("info,refresco=debug"));
    assert!(log.contains("Config {"), "{log}");
    assert!(!log.contains("\x1b["), "{log:?}");
}
