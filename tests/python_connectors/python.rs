//! Python processes for the tests: Banco Falso, its connector, the woob bridge. Each binds
//! 127.0.0.1 port 0, says where on its first line, and runs with `--exit-with-stdin`: this
//! process holds the other end of its standard input, so it stops when the test binary ends,
//! however it ends.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The two environments `scripts/test` builds.
#[derive(Clone, Copy, Debug)]
pub enum Venv {
    /// The SDK, the fake bank and its connector (`.venv-connectors`).
    Connectors,
    /// The SDK with woob, for the bridge (`.venv-woob`).
    Woob,
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl Venv {
    fn python(self) -> PathBuf {
        let dir = match self {
            Venv::Connectors => ".venv-connectors",
            Venv::Woob => ".venv-woob",
        };
        repo().join(dir).join("bin/python")
    }

    /// Whether the environment is here with the SDK installed; otherwise a SKIPPED line, or
    /// a failure in CI.
    pub fn ready(self) -> bool {
        let python = self.python();
        let installed = python.exists()
            && Command::new(&python)
                .args(["-c", "import refresco_connector"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if installed {
            return true;
        }
        let missing = format!(
            "{} with refresco_connector is missing (scripts/test makes it)",
            python.display()
        );
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
            panic!("python connector tests: {missing}; CI must run them");
        }
        // Straight to the process's stderr: libtest captures `eprintln!`, and a skip must be seen.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SKIPPED python connector tests: {missing}\n").as_bytes(),
        );
        false
    }
}

/// A running Python process.
pub struct PyProcess {
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    /// Held open: the process stops when it is closed.
    stdin: Option<ChildStdin>,
    /// Everything it wrote on stderr so far (its logs).
    logs: Arc<Mutex<String>>,
}

impl PyProcess {
    /// Runs `python -m <args>` from `examples/` in `venv` with `env` added.
    pub fn spawn(venv: Venv, args: &[&str], env: &[(&str, &str)]) -> PyProcess {
        let mut child = Command::new(venv.python())
            .arg("-m")
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--exit-with-stdin"])
            .current_dir(repo().join("examples"))
            .envs(env.iter().copied())
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python -m {args:?} starts: {e}"));
        let stdin = child.stdin.take();
        let logs = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        // Drained for good, so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(url) = line
            .split_whitespace()
            .last()
            .filter(|u| u.starts_with("http://127.0.0.1:"))
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "python -m {args:?} did not say where it listens: {line:?}\n{}",
                logs.lock().unwrap()
            );
        };
        let url = url.to_owned();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        PyProcess {
            url,
            child,
            stdin,
            logs,
        }
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for PyProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Banco Falso's `cl_banco_falso` connector and the bank behind it.
pub struct FakeBank {
    pub bank: PyProcess,
    pub connector: PyProcess,
    pub token: String,
}

pub const INSTITUTION: &str = "cl_banco_falso";
pub const WOOB_INSTITUTION: &str = "cl_banco_falso_woob";
/// The fake bank's user who gets an SMS code, its password and the code (examples/fakebank/data.py).
pub const SMS_USER: (&str, &str) = ("22222222-2", "fakepass2");
pub const SMS_CODE: &str = "123456";

fn token() -> String {
    format!("py-connector-token-{:032x}", rand::random::<u128>())
}

impl FakeBank {
    /// The bank, and the SDK connector scraping it.
    pub fn start() -> FakeBank {
        let bank = PyProcess::spawn(Venv::Connectors, &["fakebank"], &[]);
        let token = token();
        let connector = PyProcess::spawn(
            Venv::Connectors,
            &["fakebank_connector"],
            &[
                ("FAKEBANK_URL", &bank.url),
                ("REFRESCO_CONNECTOR_TOKEN", &token),
            ],
        );
        FakeBank {
            bank,
            connector,
            token,
        }
    }

    /// The bank, and the woob bridge serving the bank's woob module.
    pub fn start_woob() -> FakeBank {
        let bank = PyProcess::spawn(Venv::Connectors, &["fakebank"], &[]);
        let token = token();
        let param = format!("url={}", bank.url);
        let connector = PyProcess::spawn(
            Venv::Woob,
            &[
                "refresco_connector.woob_bridge",
                "--modules-path",
                "woob_modules",
                "--module",
                "bancofalso",
                "--institution",
                "cl_banco_falso_woob:Banco Falso (woob):cl:CLP",
                "--param",
                &param,
            ],
            &[("REFRESCO_CONNECTOR_TOKEN", &token)],
        );
        FakeBank {
            bank,
            connector,
            token,
        }
    }

    /// POSTs to the bank's `/_control/<what>` (faults, mutate, reset).
    pub async fn control(&self, what: &str, body: serde_json::Value) {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/_control/{what}", self.bank.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "control {what}: {response:?}"
        );
    }

    /// The `[[connectors]]` table that reaches the connector.
    pub fn config(&self) -> refresco::config::ConnectorConfig {
        refresco::config::ConnectorConfig {
            url: self.connector.url.clone(),
            token: Some(refresco::config::Secret::new(self.token.clone())),
            timeout: None,
        }
    }
}
