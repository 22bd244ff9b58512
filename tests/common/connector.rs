//! The sandbox banks behind the connector protocol, in a process of their own: the real
//! `refresco connector serve-sandbox`, as an operator runs it.
//!
//! The `sqlite_connector` variant of the suites (see `both_backends_and_connector!`) shares one
//! such process per test binary ([`shared`]). It is started with `--exit-with-stdin` and this
//! process keeps the other end of its standard input: when the test binary exits, however it
//! exits (a failed test, a signal, `kill -9`), the pipe closes and the connector stops too.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use refresco::config::{ConnectorConfig, Secret};

/// Movements in one page of the shared connector: small, so every account's history of a few
/// hundred movements takes several pages and the engine follows cursors.
pub const PAGE_SIZE: usize = 50;

/// A running `refresco connector serve-sandbox`.
pub struct ConnectorProcess {
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The bearer token it expects.
    pub token: String,
    child: Child,
    /// Held open: the connector stops when it is closed.
    stdin: Option<ChildStdin>,
}

impl ConnectorProcess {
    /// Starts one on a free port with pages of `page_size` movements.
    pub fn spawn(page_size: usize) -> ConnectorProcess {
        let token = format!("connector-token-{:032x}", rand::random::<u128>());
        let mut child = Command::new(env!("CARGO_BIN_EXE_refresco"))
            .args(["connector", "serve-sandbox", "--listen", "127.0.0.1:0"])
            .args(["--page-size", &page_size.to_string(), "--exit-with-stdin"])
            // By the environment, as its --help suggests: not in the process list.
            .env("REFRESCO_CONNECTOR_TOKEN", &token)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("refresco connector serve-sandbox starts");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        // "serving the sandbox banks on http://127.0.0.1:PORT"
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the connector's first line");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("the connector did not say where it serves: {line:?}"))
            .to_owned();
        // Drained for good, so the connector never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        ConnectorProcess {
            url,
            token,
            child,
            stdin,
        }
    }

    /// The `[[connectors]]` table that reaches it.
    pub fn config(&self) -> ConnectorConfig {
        ConnectorConfig {
            url: self.url.clone(),
            token: Some(Secret::new(self.token.clone())),
            timeout: None,
        }
    }

    /// Closes its standard input, as the end of this process would, and waits (10 s at most)
    /// for it to exit; returns whether it exited successfully.
    pub fn close_stdin_and_wait(mut self) -> bool {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "the connector still runs 10 s after its stdin closed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ConnectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test binary's connector process, started by the first test that needs it.
pub fn shared() -> &'static ConnectorProcess {
    static SHARED: OnceLock<ConnectorProcess> = OnceLock::new();
    SHARED.get_or_init(|| ConnectorProcess::spawn(PAGE_SIZE))
}
