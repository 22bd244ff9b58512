//! Running the real `refresco` binary in tests: start `serve` on port 0, read the address it
//! bound from its JSON logs, stop it gracefully or with SIGKILL.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `refresco serve`, logging to files in `dir`.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

/// `serve` on a new SQLite data directory `dir/data` (it creates the default organization).
pub fn spawn_fresh(dir: &Path, name: &str) -> Server {
    let data = dir.join("data");
    spawn(dir, name, &["--data-dir", data.to_str().unwrap()], &[])
}

pub fn spawn(dir: &Path, name: &str, args: &[&str], env: &[(&str, String)]) -> Server {
    let stdout = dir.join(format!("{name}.out"));
    let stderr = dir.join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_refresco"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        // Suites send bursts and poll fast; a test of the limits themselves sets its own.
        .env("REFRESCO_API_RATE_LIMIT_PER_SEC", "1000000")
        .env("REFRESCO_WIDGET_RATE_LIMIT", "1000000")
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .env("REFRESCO_WORKER_POLL_MS", "50")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("refresco starts");
    // The bound address is in the "serving" log line.
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let log = std::fs::read_to_string(&stderr).unwrap_or_default();
        if let Some(addr) = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["fields"]["message"] == "serving")
            .and_then(|v| v["fields"]["addr"].as_str().map(str::to_owned))
        {
            break addr;
        }
        assert!(Instant::now() < deadline, "{name} did not start:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    Server {
        child,
        addr: format!("http://{addr}"),
        stdout,
        stderr,
    }
}

impl Server {
    pub fn secret_key(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap();
        out.lines()
            .find_map(|l| l.trim().strip_prefix("secret key: ").map(str::to_owned))
            .expect("first start prints the keys")
    }

    pub fn kill_9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful stop exits 0: {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `refresco` subcommand to completion; returns (success, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_refresco"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("refresco runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `GET base+path` with the API key `key`: the status and the JSON answer.
pub async fn get(base: &str, key: &str, path: &str) -> (u16, Value) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}{path}"))
        .header("Authorization", key)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}
