//! The report: one line per check, pass, fail or skip, with what was seen; and [`Run`], which
//! collects the outcomes as the checks go.

use std::collections::BTreeMap;
use std::fmt;

use super::movements::{LONG_DAYS, MAX_PAGES, SHORT_DAYS};
use crate::connectors::protocol::VERSION;

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It held.
    Pass,
    /// It did not.
    Fail,
    /// It could not be judged: what it needs never came (the detail says why).
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The check's name, e.g. `movements.newest_first`.
    pub check: String,
    /// What it checks, in a few words.
    pub about: String,
    /// How it went.
    pub verdict: Verdict,
    /// What was seen when it failed, why it was skipped, or a note; one item a line.
    pub detail: String,
}

/// Every check and how it went.
#[derive(Debug, Default)]
pub struct Report {
    /// In the order of the report.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether the run judged something and nothing failed.
    pub fn passed(&self) -> bool {
        self.outcomes.iter().any(|o| o.verdict == Verdict::Pass)
            && self.outcomes.iter().all(|o| o.verdict != Verdict::Fail)
    }

    /// The names of the checks that failed.
    pub fn failed(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Fail)
            .map(|o| o.check.as_str())
            .collect()
    }

    /// The outcome of the check named `check`.
    pub fn outcome(&self, check: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.check == check)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.outcomes.iter().map(|o| o.check.len()).max();
        let width = width.unwrap_or(0);
        for o in &self.outcomes {
            let mark = match o.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "skip",
            };
            writeln!(f, "{mark}  {:<width$}  {}", o.check, o.about)?;
            for line in o.detail.lines() {
                writeln!(f, "      {line}")?;
            }
        }
        let count = |v: Verdict| self.outcomes.iter().filter(|o| o.verdict == v).count();
        writeln!(
            f,
            "{} passed, {} failed, {} skipped",
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Skip)
        )
    }
}

/// The checks, in the order of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Check {
    ManifestAnswers,
    ManifestProtocol,
    ManifestInstitutions,
    ManifestInstitution,
    Login,
    SecondFactor,
    Accounts,
    MovementsPages,
    MovementsCursors,
    IntegerAmounts,
    UniqueIds,
    InWindow,
    Currency,
    NewestFirst,
    StableIds,
    WindowSubset,
    InvalidCredentials,
    ErrorClasses,
    NotEchoed,
}

impl Check {
    pub(super) const ALL: [Check; 19] = [
        Check::ManifestAnswers,
        Check::ManifestProtocol,
        Check::ManifestInstitutions,
        Check::ManifestInstitution,
        Check::Login,
        Check::SecondFactor,
        Check::Accounts,
        Check::MovementsPages,
        Check::MovementsCursors,
        Check::IntegerAmounts,
        Check::UniqueIds,
        Check::InWindow,
        Check::Currency,
        Check::NewestFirst,
        Check::StableIds,
        Check::WindowSubset,
        Check::InvalidCredentials,
        Check::ErrorClasses,
        Check::NotEchoed,
    ];

    /// Checks that need accounts; [`Check::Accounts`] and every movement check.
    pub(super) const DATA: [Check; 10] = [
        Check::Accounts,
        Check::MovementsPages,
        Check::MovementsCursors,
        Check::IntegerAmounts,
        Check::UniqueIds,
        Check::InWindow,
        Check::Currency,
        Check::NewestFirst,
        Check::StableIds,
        Check::WindowSubset,
    ];

    fn name(self) -> &'static str {
        match self {
            Check::ManifestAnswers => "manifest.answers",
            Check::ManifestProtocol => "manifest.protocol",
            Check::ManifestInstitutions => "manifest.institutions",
            Check::ManifestInstitution => "manifest.lists_institution",
            Check::Login => "login",
            Check::SecondFactor => "login.second_factor",
            Check::Accounts => "accounts",
            Check::MovementsPages => "movements.pages",
            Check::MovementsCursors => "movements.cursors_end",
            Check::IntegerAmounts => "movements.integer_amounts",
            Check::UniqueIds => "movements.unique_ids",
            Check::InWindow => "movements.in_window",
            Check::Currency => "movements.currency",
            Check::NewestFirst => "movements.newest_first",
            Check::StableIds => "movements.stable_ids",
            Check::WindowSubset => "movements.window_subset",
            Check::InvalidCredentials => "errors.invalid_credentials",
            Check::ErrorClasses => "errors.classes",
            Check::NotEchoed => "credentials.not_echoed",
        }
    }

    fn about(self) -> String {
        match self {
            Check::ManifestAnswers => "GET /manifest answers a JSON object".into(),
            Check::ManifestProtocol => format!("the manifest speaks protocol {VERSION}"),
            Check::ManifestInstitutions => {
                "institutions listed, ids unique and <country>_<slug>, country and currency \
                 well formed"
                    .into()
            }
            Check::ManifestInstitution => "the manifest lists --institution".into(),
            Check::Login => "POST /login logs in or asks for a second factor".into(),
            Check::SecondFactor => "POST /mfa takes the answer, when one is asked".into(),
            Check::Accounts => {
                "POST /accounts: at least one, in the schema, bank ids unique, currency well formed"
                    .into()
            }
            Check::MovementsPages => "POST /movements answers every page in the schema".into(),
            Check::MovementsCursors => {
                format!("cursors end: none given twice, at most {MAX_PAGES} pages")
            }
            Check::IntegerAmounts => "amounts are JSON integers".into(),
            Check::UniqueIds => "no bank id twice in one fetch of an account".into(),
            Check::InWindow => "every post_date is inside the window asked for".into(),
            Check::Currency => "every movement is in its account's currency".into(),
            Check::NewestFirst => "newest first: post_date never increases, across pages".into(),
            Check::StableIds => {
                "fetching a window twice gives the same movements, under the same bank ids".into()
            }
            Check::WindowSubset => {
                format!("the last {SHORT_DAYS} days are a subset of the last {LONG_DAYS}")
            }
            Check::InvalidCredentials => {
                "a wrong password gets a protocol error, code invalid_credentials".into()
            }
            Check::ErrorClasses => {
                "every error says its class, or is a protocol code of that class".into()
            }
            Check::NotEchoed => "the password appears in no answer".into(),
        }
    }
}

/// The outcomes so far; any check left unrecorded at the end is skipped.
#[derive(Default)]
pub(super) struct Run {
    outcomes: BTreeMap<Check, (Verdict, String)>,
}

/// Most problems listed under one check; the rest are counted.
const MAX_LISTED: usize = 5;

impl Run {
    /// Passes if `problems` is empty, else fails listing them.
    pub(super) fn record(&mut self, check: Check, problems: Vec<String>) {
        if problems.is_empty() {
            self.pass(check, "");
            return;
        }
        let mut detail: Vec<String> = problems.iter().take(MAX_LISTED).cloned().collect();
        if problems.len() > MAX_LISTED {
            detail.push(format!("… and {} more", problems.len() - MAX_LISTED));
        }
        self.fail(check, &detail.join("\n"));
    }

    pub(super) fn pass(&mut self, check: Check, note: &str) {
        self.outcomes
            .insert(check, (Verdict::Pass, note.to_owned()));
    }

    pub(super) fn fail(&mut self, check: Check, detail: &str) {
        self.outcomes
            .insert(check, (Verdict::Fail, detail.to_owned()));
    }

    pub(super) fn skip(&mut self, check: Check, why: &str) {
        self.outcomes.insert(check, (Verdict::Skip, why.to_owned()));
    }

    /// Skips those of `checks` not recorded yet.
    pub(super) fn skip_unrecorded(&mut self, checks: &[Check], why: &str) {
        for check in checks {
            if !self.outcomes.contains_key(check) {
                self.skip(*check, why);
            }
        }
    }

    pub(super) fn report(mut self) -> Report {
        self.skip_unrecorded(&Check::ALL, "not run");
        let outcomes = self
            .outcomes
            .into_iter()
            .map(|(check, (verdict, detail))| Outcome {
                check: check.name().to_owned(),
                about: check.about(),
                verdict,
                detail,
            })
            .collect();
        Report { outcomes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_check_is_reported_in_order() {
        let names: std::collections::HashSet<_> = Check::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Check::ALL.len());
        let mut sorted = Check::ALL;
        sorted.sort();
        assert_eq!(sorted, Check::ALL);
        let report = Run::default().report();
        assert_eq!(report.outcomes.len(), Check::ALL.len());
        assert!(report.outcomes.iter().all(|o| o.verdict == Verdict::Skip));
        // Nothing judged is not a pass.
        assert!(!report.passed());
    }

    #[test]
    fn skips_do_not_fail_a_run_and_long_lists_are_cut() {
        let mut run = Run::default();
        run.pass(Check::ManifestAnswers, "");
        run.skip(Check::Accounts, "not run: no session");
        let report = run.report();
        assert!(report.passed(), "{report}");
        assert!(report.failed().is_empty());

        let mut run = Run::default();
        run.record(Check::ManifestAnswers, Vec::new());
        run.record(
            Check::UniqueIds,
            (1..=7).map(|i| format!("problem {i}")).collect(),
        );
        let report = run.report();
        assert!(!report.passed());
        assert_eq!(report.failed(), ["movements.unique_ids"]);
        let detail = &report.outcome("movements.unique_ids").unwrap().detail;
        assert_eq!(detail.lines().count(), MAX_LISTED + 1);
        assert!(detail.ends_with("… and 2 more"), "{detail}");

        let table = report.to_string();
        assert!(table.starts_with("pass  manifest.answers  "), "{table}");
        assert!(table.contains("\nFAIL  movements.unique_ids  "), "{table}");
        assert!(table.contains("\n      problem 1\n"), "{table}");
        assert!(
            table.ends_with("1 passed, 1 failed, 17 skipped\n"),
            "{table}"
        );
    }
}
