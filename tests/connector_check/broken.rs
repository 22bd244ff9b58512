//! Connectors broken on purpose, data rules: a `Connector` around the Chilean sandbox bank,
//! served by the protocol's own server, one rule broken each.

use super::*;

#[derive(Clone, Copy)]
enum Breakage {
    DuplicateAccounts,
    DuplicateMovements,
    OutsideWindow,
    ForeignCurrency,
    OldestFirst,
    ShortWindowOwnIds,
    PasswordInSession,
}

struct Broken {
    bank: SandboxBank,
    breakage: Breakage,
}

#[async_trait]
impl Connector for Broken {
    fn institution(&self) -> &Institution {
        self.bank.institution()
    }

    async fn login(&self, creds: &Credentials) -> Result<LoginOutcome, ConnectorError> {
        let outcome = self.bank.login(creds).await?;
        Ok(match (self.breakage, outcome) {
            // The sandbox reads its own fields of the session and ignores the rest.
            (Breakage::PasswordInSession, LoginOutcome::LoggedIn(mut session)) => {
                session.0["password"] = json!(creds.password);
                LoginOutcome::LoggedIn(session)
            }
            (_, outcome) => outcome,
        })
    }

    async fn answer_mfa(
        &self,
        challenge: &MfaChallenge,
        answer: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError> {
        self.bank.answer_mfa(challenge, answer).await
    }

    async fn list_accounts(
        &self,
        session: &mut BankSession,
        ctx: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError> {
        let mut accounts = self.bank.list_accounts(session, ctx).await?;
        if let Breakage::DuplicateAccounts = self.breakage {
            accounts[1].bank_id = accounts[0].bank_id.clone();
        }
        Ok(accounts)
    }

    async fn fetch_movements(
        &self,
        session: &mut BankSession,
        account: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        let mut movements = self
            .bank
            .fetch_movements(session, account, window, ctx)
            .await?;
        match self.breakage {
            Breakage::DuplicateMovements => movements[1].bank_id = movements[0].bank_id.clone(),
            // The oldest movement, a day too old: the order and its id stay as they were.
            Breakage::OutsideWindow => {
                movements.last_mut().unwrap().post_date = window.since.pred_opt().unwrap();
            }
            Breakage::ForeignCurrency => movements[0].currency = "USD".into(),
            Breakage::OldestFirst => movements.reverse(),
            // The same every time, so only the comparison with the longer window sees it.
            Breakage::ShortWindowOwnIds if (window.until - window.since).num_days() < 30 => {
                movements[0].bank_id.push_str("-short");
            }
            Breakage::ShortWindowOwnIds => {}
            Breakage::DuplicateAccounts | Breakage::PasswordInSession => {}
        }
        Ok(movements)
    }
}

async fn check_broken(breakage: Breakage) -> Report {
    let registry = Registry::new();
    let bank = sandbox::chile(Default::default());
    registry
        .register(Arc::new(Broken { bank, breakage }), Source::Sandbox)
        .unwrap();
    let url = serve(server::router(registry, Secret::new(TOKEN), 20)).await;
    check::run(&args(&url, CHILE, sandbox::PASSWORD)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_account_ids_fail() {
    let report = check_broken(Breakage::DuplicateAccounts).await;
    assert_only_fails(&report, "accounts", "used by two accounts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_movement_ids_fail() {
    let report = check_broken(Breakage::DuplicateMovements).await;
    assert_only_fails(&report, "movements.unique_ids", "comes more than once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_date_outside_the_window_fails() {
    let report = check_broken(Breakage::OutsideWindow).await;
    assert_only_fails(&report, "movements.in_window", "outside");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_movement_in_another_currency_fails() {
    let report = check_broken(Breakage::ForeignCurrency).await;
    assert_only_fails(&report, "movements.currency", "\"USD\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oldest_first_fails() {
    let report = check_broken(Breakage::OldestFirst).await;
    assert_only_fails(&report, "movements.newest_first", "comes before the newer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_window_with_its_own_ids_fails() {
    let report = check_broken(Breakage::ShortWindowOwnIds).await;
    assert_only_fails(&report, "movements.window_subset", "-short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_in_an_answer_fails() {
    let report = check_broken(Breakage::PasswordInSession).await;
    assert_only_fails(&report, "credentials.not_echoed", "POST /login");
}
