//! The README's walk-through runs as written: its `bash` blocks, in order, in one shell, against
//! a fresh `refresco serve` (the real binary) with the key that server printed.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/process.rs"]
mod process;

/// The heading of the walk-through in README.md.
const HEADING: &str = "## Walk-through: from a link to a signed webhook";

/// The `bash` blocks of the README section under `heading`, joined in order.
fn bash_blocks(readme: &str, heading: &str) -> String {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
    let section = &readme[start + heading.len() + 2..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut script = String::new();
    let mut rest = section;
    while let Some(open) = rest.find("```bash\n") {
        let body = &rest[open + "```bash\n".len()..];
        let close = body.find("\n```").expect("a closed block");
        script.push_str(&body[..close]);
        script.push('\n');
        rest = &body[close + 4..];
    }
    script
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_readme_walkthrough_runs_against_a_fresh_server() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let script = bash_blocks(&readme, HEADING);
    assert!(
        script.lines().count() > 40,
        "the blocks were found:\n{script}"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = process::spawn_fresh(dir.path(), "walkthrough");
    let key = server.secret_key();
    let work = dir.path().join("shell");
    std::fs::create_dir(&work).unwrap();
    let mut shell = Command::new("bash");
    shell
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&work)
        .env("KEY", &key)
        .env("BASE", &server.addr)
        .env("RECEIVER_PORT", free_port().to_string())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so the receiver it starts in the background can be stopped
        // with it whatever happens.
        .process_group(0);
    let child = shell.spawn().expect("bash runs");
    let group = child.id();
    let killer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if Command::new("kill")
                .args(["-0", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| !s.success())
            {
                return;
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .status();
    });
    let output = child.wait_with_output().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    killer.join().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walk-through failed ({}):\n--- stdout\n{out}\n--- stderr\n{err}\n--- script\n{script}",
        output.status
    );
    // What the comments of the README promise, line by line.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"historical"), "{out}");
    assert_eq!(lines.get(1), Some(&"succeeded"), "{out}");
    assert_eq!(lines.get(2), Some(&"6"), "{out}");
    assert!(
        out.contains("signature ok: link.refresh_intent.succeeded"),
        "{out}"
    );
    assert!(
        out.contains("\n429\nrate_limit_exceeded\nsucceeded\nfailed\n0\n"),
        "{out}"
    );
    server.stop();
}
