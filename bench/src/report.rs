//! Results: figures, targets and problems per scenario and backend, the machine, as a text table
//! and as JSON.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use super::Machine;

/// The whole run. Its results are [`ScenarioResult`]s when they ran in this process, or the
/// JSON that child processes reported (see `isolated`).
#[derive(Debug, Serialize)]
pub struct Report<R = ScenarioResult> {
    /// Where it ran.
    pub machine: Machine,
    /// Whether sizes were the tiny smoke ones (figures then mean nothing).
    pub smoke: bool,
    /// One entry per scenario and backend, in run order.
    pub results: Vec<R>,
}

impl<R: Serialize> Report<R> {
    /// Writes the report as JSON to `path` (`--json`).
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
    }
}

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// What it is.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its unit (`req/s`, `ms`, `MiB`, …).
    pub unit: &'static str,
}

/// A target and whether this run met it.
#[derive(Clone, Debug, Serialize)]
pub struct TargetCheck {
    /// What is targeted.
    pub name: String,
    /// The target, e.g. `>= 20% of /healthz`.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Whether it was met.
    pub met: bool,
}

/// One scenario on one backend.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    /// `s1` … `s6`.
    pub scenario: &'static str,
    /// Its title.
    pub title: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The database engine's version.
    pub database: String,
    /// The sizes and settings it ran with.
    pub parameters: Vec<(String, String)>,
    /// What it measured.
    pub figures: Vec<Figure>,
    /// Targets (full runs only: smoke sizes measure nothing).
    pub targets: Vec<TargetCheck>,
    /// Correctness failures: requests with unexpected answers, refreshes that did not end,
    /// deliveries not recorded. Empty when all went as expected.
    pub problems: Vec<String>,
    /// Remarks on how to read the figures.
    pub notes: Vec<String>,
}

impl ScenarioResult {
    /// An empty result.
    pub fn new(scenario: &'static str, title: &'static str, backend: &'static str) -> Self {
        Self {
            scenario,
            title,
            backend,
            database: String::new(),
            // Which process ran it: a CLI run of several scenarios runs each in its own.
            parameters: vec![("process".to_owned(), std::process::id().to_string())],
            figures: Vec::new(),
            targets: Vec::new(),
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a parameter.
    pub fn param(&mut self, name: &str, value: impl ToString) {
        self.parameters.push((name.to_owned(), value.to_string()));
    }

    /// Records a figure.
    pub fn figure(&mut self, name: &str, value: f64, unit: &'static str) {
        self.figures.push(Figure {
            name: name.to_owned(),
            value,
            unit,
        });
    }

    /// A figure's value by name.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value)
    }

    /// Records a target.
    pub fn target(&mut self, name: &str, target: &str, measured: String, met: bool) {
        self.targets.push(TargetCheck {
            name: name.to_owned(),
            target: target.to_owned(),
            measured,
            met,
        });
    }

    /// Records a problem when `ok` is false.
    pub fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(problem());
        }
    }
}

fn format_value(value: f64) -> String {
    // Whole numbers and large values need no decimals.
    if (value.fract() == 0.0 && value.abs() < 1e15) || value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// One scenario as text (printed as each one ends).
pub fn render_one(result: &ScenarioResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} {} on {} ({})",
        result.scenario.to_uppercase(),
        result.title,
        result.backend,
        result.database
    );
    if !result.parameters.is_empty() {
        let params: Vec<String> = result
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "  with {}", params.join(", "));
    }
    for figure in &result.figures {
        let _ = writeln!(
            out,
            "  {:<44} {:>14} {}",
            figure.name,
            format_value(figure.value),
            figure.unit
        );
    }
    for target in &result.targets {
        let _ = writeln!(
            out,
            "  target {:<37} {:<18} measured {:<22} {}",
            target.name,
            target.target,
            target.measured,
            if target.met { "MET" } else { "MISSED" }
        );
    }
    for note in &result.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if result.problems.is_empty() {
        let _ = writeln!(out, "  correctness: ok");
    } else {
        for problem in &result.problems {
            let _ = writeln!(out, "  PROBLEM: {problem}");
        }
    }
    out
}

impl Report {
    /// The whole report as text: the machine, then each scenario.
    pub fn render(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = writeln!(out, "Refresco {} benchmark", m.refresco);
        let _ = writeln!(
            out,
            "machine: {} × {} cores, {} MiB, {}; {}; {} build{}",
            m.cpu,
            m.cores,
            m.memory_mib,
            m.os,
            m.rustc,
            m.profile,
            if self.smoke {
                " (SMOKE sizes: figures are meaningless)"
            } else {
                ""
            }
        );
        for result in &self.results {
            out.push_str(&render_one(result));
        }
        let problems: usize = self.results.iter().map(|r| r.problems.len()).sum();
        let _ = writeln!(
            out,
            "\n{} scenario run(s), {problems} correctness problem(s)",
            self.results.len()
        );
        out
    }

    /// Whether every scenario behaved correctly.
    pub fn all_correct(&self) -> bool {
        self.results.iter().all(|r| r.problems.is_empty())
    }
}
