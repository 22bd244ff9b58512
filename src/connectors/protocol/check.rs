//! The conformance run of `refresco connector check`: what a connector author runs in their
//! own CI to see that their service follows the protocol.

use std::fmt;

/// What to check, and with which test credentials.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The connector service's URL.
    pub url: String,
    /// The institution to log in to (one of the manifest's).
    #[arg(long)]
    pub institution: String,
    /// A test login at that institution.
    #[arg(long)]
    pub username: String,
    /// Its password.
    #[arg(long, env = "REFRESCO_CHECK_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// The second-factor code to answer with, when the bank asks for one.
    #[arg(long)]
    pub mfa_code: Option<String>,
    /// `individual` or `business`.
    #[arg(long, default_value = "individual")]
    pub holder_type: String,
    /// The bearer token the service expects.
    #[arg(long, env = "REFRESCO_CONNECTOR_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What was checked.
    pub check: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen, when it did not.
    pub detail: String,
}

/// Every check and how it went.
#[derive(Debug, Default)]
pub struct Report {
    /// In the order they ran.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(|o| o.passed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in &self.outcomes {
            let mark = if o.passed { "pass" } else { "FAIL" };
            writeln!(f, "{mark}  {}", o.check)?;
            if !o.detail.is_empty() {
                writeln!(f, "      {}", o.detail)?;
            }
        }
        Ok(())
    }
}

/// Runs every check against the service.
pub async fn run(_args: &CheckArgs) -> Report {
    Report::default()
}
