//! The machine a report was made on, and this process's memory and CPU time (Linux `/proc`).
//! The server runs inside the benchmark's process, so these are the server's figures plus the
//! (small, idle while waiting) load client and webhook receiver.

use std::time::Duration;

use serde::Serialize;

/// What the figures were measured on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs this process may use.
    pub cores: usize,
    /// Total memory, in MiB.
    pub memory_mib: u64,
    /// Operating system and kernel.
    pub os: String,
    /// `rustc --version` of the toolchain on PATH (the one `cargo run` builds with).
    pub rustc: String,
    /// `release` or `debug`: how this binary was built.
    pub profile: &'static str,
    /// Refresco's version.
    pub refresco: &'static str,
}

impl Machine {
    /// Reads `/proc`, `/etc/os-release` and `rustc --version`; unknown parts say `unknown`.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: u64 = field(&meminfo, "MemTotal")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let name = release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_else(|| std::env::consts::OS.to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_owned())
            .unwrap_or_default();
        let rustc = std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_mib: memory_kib / 1024,
            os: format!("{name}, Linux {kernel}"),
            rustc,
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            refresco: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The value of `key: value` in a /proc text file.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// Peak resident memory of this process (`VmHWM`), in MB (10^6 bytes).
pub fn peak_rss_mb() -> Option<f64> {
    status_kib("VmHWM").map(|kib| kib as f64 * 1024.0 / 1e6)
}

/// Resident memory of this process now (`VmRSS`), in MB (10^6 bytes).
pub fn rss_mb() -> Option<f64> {
    status_kib("VmRSS").map(|kib| kib as f64 * 1024.0 / 1e6)
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    field(&status, key)?.split_whitespace().next()?.parse().ok()
}

/// Resets the peak-RSS mark to the current RSS (writing `5` to `/proc/self/clear_refs`), so a
/// scenario's peak is its own and not an earlier one's. Returns false where unsupported.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time this process has used (user + system, `/proc/self/stat` fields 14 and 15).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / clock_ticks_per_second(),
    ))
}

/// `getconf CLK_TCK` (100 on every mainstream Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A CPU-time stopwatch: CPU used between `start` and [`CpuWindow::percent`], as a share of one
/// core (200% = both cores of a 2-core machine busy).
pub struct CpuWindow {
    cpu: Duration,
    wall: std::time::Instant,
}

impl CpuWindow {
    /// Starts measuring now.
    pub fn start() -> Self {
        Self {
            cpu: cpu_time().unwrap_or_default(),
            wall: std::time::Instant::now(),
        }
    }

    /// CPU seconds and percent of one core since `start`, and the wall time.
    pub fn stop(&self) -> (f64, f64, Duration) {
        let cpu = cpu_time().unwrap_or_default().saturating_sub(self.cpu);
        let wall = self.wall.elapsed();
        let percent = 100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9);
        (cpu.as_secs_f64(), percent, wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let machine = Machine::detect();
        assert!(machine.cores >= 1);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mb().unwrap() > 0.0);
            assert!(rss_mb().unwrap() > 0.0);
            assert!(cpu_time().is_some());
        }
    }
}
