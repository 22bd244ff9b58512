//! Recording the end of a refresh: accounts, movement diffs, per-account results, the intent's
//! final state and the link's fields, in ONE transaction fenced by the worker's lease.
//! Running the same refresh twice (a worker died after the bank answered) gives the same rows,
//! because movements are matched by the bank's own identity.

use std::sync::LazyLock;

use chrono::NaiveDate;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::accounts::{
    bind_account_update, updated_in_order, AccountUpdate, LinkAccounts, ACCOUNT_UPDATES,
};
use super::events::Subscriptions;
use super::jobs::ClaimedJob;
use super::links::LINK_COLUMNS;
use super::movements::{apply_diffs, bind_new_movement, diff_fetched, NEW_MOVEMENT_ROWS};
use super::recorded::{
    bind_result, insert_changes, read_recorded, AccountResult, EventMaker, RESULT_ROWS,
};
use super::refresh::{intent_from_row, INTENT_COLUMNS};
use super::row_writes::{filled, ParamStyle, ROWS_PER_INSERT};
use super::rows::{account_from_row, link_from_row, AnyQuery};
use super::{flag, insert_rows_together, write_rows, RowWrite, Store};
use crate::domain::ingest::MovementDiff;
use crate::domain::*;

/// The movements the bank returned for one account.
#[derive(Debug)]
pub struct FetchedMovements {
    /// First day the bank answered for (removals are judged only from here on).
    pub since: NaiveDate,
    /// Last day asked for.
    pub until: NaiveDate,
    /// What the bank returned.
    pub movements: Vec<MovementData>,
}

/// One account as a refresh saw it.
#[derive(Debug)]
pub struct AccountFetch {
    /// The bank's data of the account.
    pub account: AccountData,
    /// Its movements, or why they could not be read.
    pub movements: Result<FetchedMovements, PublicError>,
}

/// How a refresh ended.
#[derive(Debug)]
pub struct RefreshOutcome {
    /// Final status.
    pub status: IntentStatus,
    /// Fintoc's reason when not succeeded.
    pub public_error: Option<PublicError>,
    /// Our reason, for people.
    pub failure_reason: Option<String>,
    /// The accounts the bank listed, or `None` when it was not reached (every known account
    /// then gets the intent's outcome).
    pub accounts: Option<Vec<AccountFetch>>,
    /// New credential status of the link, when the bank judged them.
    pub credential_status: Option<CredentialStatus>,
    /// When the refresh ended.
    pub finished_at: Timestamp,
    /// Earliest next refresh (for `next_refresh`), after a success.
    pub next_refresh: Option<Timestamp>,
}

impl RefreshOutcome {
    /// A success decided without reaching the bank (test mode's forced result): every account
    /// the link has gets it, and the credentials are left as they are.
    pub fn succeeded_without_fetch(next_refresh: Option<Timestamp>) -> Self {
        Self {
            status: IntentStatus::Succeeded,
            public_error: None,
            failure_reason: None,
            accounts: None,
            credential_status: None,
            finished_at: Timestamp::now(),
            next_refresh,
        }
    }
}

/// What recording produced, per account (for logs and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordedCounts {
    /// Movements created.
    pub new: i64,
    /// Movements modified.
    pub modified: i64,
    /// Movements removed.
    pub removed: i64,
}

impl Store {
    /// Holds back every recording until the returned guard is dropped, as a database busy with
    /// other refreshes' recordings would (tests use it to show that a waiting recording keeps
    /// its lease).
    pub async fn hold_recordings(&self) -> anyhow::Result<tokio::sync::OwnedSemaphorePermit> {
        let all = u32::try_from(self.recorders_max)?;
        Ok(self.recorders.clone().acquire_many_owned(all).await?)
    }

    /// Records the outcome of a refresh and its events; `Ok(None)` when the lease was lost
    /// (nothing written). On SQLite the group writer commits recordings that wait together in
    /// one transaction (one fsync for the group), each in its own savepoint.
    ///
    /// What the recording reads (the link's accounts, the stored movements its diff needs) is
    /// read first, on a reader, so that the one writer only writes (BENCHMARKS.md, change 41).
    /// Nothing read can change before the write: a link's accounts and movements are written
    /// only when the link is created and by recordings; a link has one refresh in progress at
    /// a time (`refresh_intents_one_in_progress`), the previous one's recording committed
    /// before this intent was created, and of the workers that ever held this job's lease,
    /// only the one holding it at the write passes the fence. Its claim committed before this
    /// read, so a recording by an earlier holder is either seen here or fenced off.
    #[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
    pub async fn finish_refresh(
        &self,
        job: &ClaimedJob,
        link_id: &LinkId,
        mut outcome: RefreshOutcome,
        make_events: EventMaker,
    ) -> anyhow::Result<Option<RecordedCounts>> {
        let _turn = self.recorders.acquire().await?;
        let prepared = match &mut outcome.accounts {
            Some(fetches) => {
                let mut reader = self.read.acquire().await?;
                Some(Prepared::read(&mut reader, link_id, fetches).await?)
            }
            None => None,
        };
        let recording = Recording {
            job: job.clone(),
            link_id: link_id.clone(),
            outcome,
            prepared,
            make_events,
        };
        if let Some(writer) = &self.group_writer {
            return writer.record(recording).await;
        }
        let mut tx = self.begin().await?;
        let recorded = recording.write(&mut tx).await?;
        if recorded.is_some() {
            tx.commit().await?;
        }
        Ok(recorded)
    }
}

/// What a recording reads before it writes (see `Store::finish_refresh`).
#[derive(Debug)]
struct Prepared {
    /// The link's accounts.
    known: LinkAccounts,
    /// Per fetched account, in order: its diff, or `None` when its movements were not read.
    diffs: Vec<Option<MovementDiff>>,
}

impl Prepared {
    /// Reads the link's accounts and diffs each answered fetch against its stored movements
    /// (the fetched movements move into the diffs).
    async fn read(
        conn: &mut AnyConnection,
        link_id: &LinkId,
        fetches: &mut [AccountFetch],
    ) -> anyhow::Result<Self> {
        let known = LinkAccounts::read(&mut *conn, link_id).await?;
        let ids: Vec<Option<AccountId>> = fetches
            .iter()
            .map(|fetch| known.id_of(&fetch.account.bank_id))
            .collect();
        let mut answered: Vec<(Option<&AccountId>, &mut FetchedMovements)> = ids
            .iter()
            .zip(fetches.iter_mut())
            .filter_map(|(id, fetch)| fetch.movements.as_mut().ok().map(|m| (id.as_ref(), m)))
            .collect();
        let mut diffs = diff_fetched(conn, &mut answered).await?.into_iter();
        let diffs = fetches
            .iter()
            .map(|fetch| fetch.movements.is_ok().then(|| diffs.next()).flatten())
            .collect();
        Ok(Self { known, diffs })
    }
}

/// One refresh's outcome, to be written.
pub(super) struct Recording {
    job: ClaimedJob,
    link_id: LinkId,
    outcome: RefreshOutcome,
    /// Read before, when the bank listed accounts.
    prepared: Option<Prepared>,
    make_events: EventMaker,
}

impl Recording {
    /// Writes the recording on `conn`, inside a transaction (or savepoint) the caller commits;
    /// `Ok(None)` when the lease was lost and nothing was written.
    pub(super) async fn write(
        &self,
        conn: &mut AnyConnection,
    ) -> anyhow::Result<Option<RecordedCounts>> {
        let Recording {
            job,
            link_id,
            outcome,
            prepared,
            make_events,
        } = self;
        let now = outcome.finished_at.millis();
        // The fence: only the lease holder can move its job to done.
        let fenced = sqlx::query(
            "UPDATE refresh_jobs SET state = 'done', lease_token = NULL, lease_owner = NULL,
                 lease_expires_at = NULL, updated_at = $1
             WHERE intent_id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(job.intent_id.as_str())
        .bind(&job.lease_token)
        .execute(&mut *conn)
        .await?;
        if fenced.rows_affected() != 1 {
            tracing::warn!("lease lost before recording; nothing written");
            return Ok(None);
        }

        let succeeded = outcome.status == IntentStatus::Succeeded;
        let account_status = |ok: bool| match (ok, outcome.status) {
            (true, _) => RefreshStatus::Refreshed,
            (false, IntentStatus::Rejected) => RefreshStatus::Interrupted,
            _ => RefreshStatus::Failed,
        };
        let mut totals = RecordedCounts::default();
        let mut results = Vec::new();
        let account_ids: Vec<AccountId>;
        let mut updates = Vec::new();
        let mut new_movements = Vec::new();
        // Without a fetch: the accounts the link still has, as they are after the update.
        let mut unfetched = Vec::new();
        match &outcome.accounts {
            Some(fetches) => {
                let Prepared { known, diffs } = prepared
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("a recording's accounts were not read"))?;
                let mut known = known.clone();
                let listed: Vec<&str> =
                    fetches.iter().map(|f| f.account.bank_id.as_str()).collect();
                known.mark_unlisted_removed(&mut *conn, &listed).await?;
                updates = fetches
                    .iter()
                    .map(|fetch| {
                        let ok = fetch.movements.is_ok();
                        AccountUpdate {
                            data: &fetch.account,
                            status: account_status(ok),
                            refreshed_at: ok.then_some(now),
                            next_refresh: outcome.next_refresh.filter(|_| ok),
                        }
                    })
                    .collect();
                account_ids = known.ids_for(&mut *conn, link_id, &updates).await?;
                let answered: Vec<(&AccountId, &MovementDiff)> = account_ids
                    .iter()
                    .zip(diffs)
                    .filter_map(|(id, diff)| diff.as_ref().map(|diff| (id, diff)))
                    .collect();
                let applied = apply_diffs(&mut *conn, &answered, now).await?;
                new_movements = applied.new;
                let mut applied = applied.per_account.into_iter();
                for (account_id, fetch) in account_ids.iter().zip(fetches) {
                    let (counts, changes, status, error) = match &fetch.movements {
                        Ok(_) => {
                            let (counts, changes) = applied
                                .next()
                                .ok_or_else(|| anyhow::anyhow!("an account was not applied"))?;
                            (counts, changes, IntentStatus::Succeeded, None)
                        }
                        Err(e) => (RecordedCounts::default(), Vec::new(), e.status(), Some(*e)),
                    };
                    totals.new += counts.new;
                    totals.modified += counts.modified;
                    totals.removed += counts.removed;
                    results.push(AccountResult {
                        account_id: account_id.clone(),
                        status,
                        error,
                        counts,
                        changes,
                    });
                }
            }
            None => {
                account_ids = Vec::new();
                // Every account the link still has gets the intent's outcome.
                sqlx::query(
                    "UPDATE accounts SET refresh_status = $1
                     WHERE link_id = $2 AND removed_from_link = 0",
                )
                .bind(account_status(succeeded).as_str())
                .bind(link_id.as_str())
                .execute(&mut *conn)
                .await?;
                let rows = sqlx::query(
                    "SELECT * FROM accounts WHERE link_id = $1 AND removed_from_link = 0
                     ORDER BY position",
                )
                .bind(link_id.as_str())
                .fetch_all(&mut *conn)
                .await?;
                for row in &rows {
                    let account = account_from_row(row)?;
                    results.push(AccountResult {
                        account_id: account.id.clone(),
                        status: outcome.status,
                        error: outcome.public_error,
                        counts: RecordedCounts::default(),
                        changes: Vec::new(),
                    });
                    unfetched.push(account);
                }
            }
        }

        // Only a refresh that finds the credentials refused can change them from active.
        let credentials_changed =
            if outcome.credential_status == Some(CredentialStatus::LoginRequired) {
                let before: String =
                    sqlx::query_scalar("SELECT credential_status FROM links WHERE id = $1")
                        .bind(link_id.as_str())
                        .fetch_one(&mut *conn)
                        .await?;
                before == CredentialStatus::Active.as_str()
            } else {
                false
            };
        let result_ids: Vec<RefreshIntentId> = results
            .iter()
            .map(|_| RefreshIntentId::generate())
            .collect();
        let writes = MainWrites {
            accounts: account_ids.iter().zip(&updates).collect(),
            movements: new_movements,
            intent_id: &job.intent_id,
            result_ids: &result_ids,
            results: &results,
            finish: Finish {
                outcome,
                link_status: account_status(succeeded),
                new_movements: totals.new,
                intent_id: &job.intent_id,
                link_id,
            },
            now,
        };
        let written = writes.write(&mut *conn).await?;
        insert_changes(&mut *conn, &result_ids, &results).await?;
        let accounts = match outcome.accounts {
            Some(_) => updated_in_order(&written.accounts, &account_ids)?,
            None => unfetched,
        };
        let results = result_ids
            .into_iter()
            .zip(results)
            .zip(accounts)
            .map(|((id, r), account)| (id, account, r.status, r.error, r.counts.new, r.changes))
            .collect();
        let (intent_row, link_row, subscriptions) =
            (written.intent, written.link, written.subscriptions);
        let recorded = read_recorded(
            &mut *conn,
            intent_from_row(&intent_row)?,
            link_from_row(&link_row)?,
            results,
            credentials_changed,
        )
        .await?;
        let events = make_events(&recorded)?;
        super::events::insert_events(
            &mut *conn,
            &recorded.intent.organization_id,
            recorded.intent.mode,
            &events,
            &subscriptions,
            outcome.finished_at,
        )
        .await?;
        Ok(Some(totals))
    }
}

/// The last writes of a recording, which return what the events describe: the intent's final
/// state, the link's fields, and the subscriptions of the link's owner. Their parameters are
/// one numbering (`$1` status, `$2` new movements, `$3` public error, `$4` failure reason, `$5`
/// now, `$6` intent, `$7` the link's refresh status, `$8` succeeded, `$9` credential status,
/// `$10` link), bound to every statement as in a create (see `refresh::CREATE_WRITES`).
const FINISH_WRITES: [&str; 3] = [
    "UPDATE refresh_intents SET status = $1, new_movements = $2, public_error = $3,
         failure_reason = $4, finished_at = $5, mfa_challenge = NULL, mfa_session = NULL
     WHERE id = $6 RETURNING {INTENT_COLUMNS}",
    "UPDATE links SET refresh_status = $7,
         last_time_refreshed = CASE WHEN $8 = 1 THEN $5 ELSE last_time_refreshed END,
         credential_status = COALESCE($9, credential_status),
         refresh_count = refresh_count + 1
     WHERE id = $10 RETURNING {LINK_COLUMNS}",
    "{SUBSCRIPTIONS}",
];

/// [`FINISH_WRITES`] with their columns filled in, once; and SQLite's script of all three.
static FINISH_SQL: LazyLock<([String; 3], String)> = LazyLock::new(|| {
    let subscriptions = super::events::subscriptions_sql(
        "(e.organization_id, e.mode) = (SELECT organization_id, mode FROM links WHERE id = $10)",
    );
    let statements = FINISH_WRITES.map(|sql| {
        sql.replace("{INTENT_COLUMNS}", INTENT_COLUMNS)
            .replace("{LINK_COLUMNS}", LINK_COLUMNS)
            .replace("{SUBSCRIPTIONS}", &subscriptions)
    });
    let script = statements.join("; ");
    (statements, script)
});

/// What [`FINISH_WRITES`] are bound with.
struct Finish<'a> {
    outcome: &'a RefreshOutcome,
    link_status: RefreshStatus,
    new_movements: i64,
    intent_id: &'a RefreshIntentId,
    link_id: &'a LinkId,
}

impl Finish<'_> {
    /// Runs [`FINISH_WRITES`]: on SQLite as one script, so one round trip to the writer thread
    /// instead of three (each wakes the writer and then the recording's task; see
    /// BENCHMARKS.md, S2); on PostgreSQL one after the other. Any failure fails the recording,
    /// whose transaction or savepoint the caller then rolls back.
    async fn write(
        &self,
        conn: &mut AnyConnection,
    ) -> anyhow::Result<(AnyRow, AnyRow, Subscriptions)> {
        let (statements, script) = &*FINISH_SQL;
        if super::is_sqlite(conn) {
            let rows = self.bind(script).fetch_all(&mut *conn).await?;
            return finish_rows(rows.into_iter());
        }
        let [intent, link, subscriptions] = statements;
        let intent = self.bind(intent).fetch_one(&mut *conn).await?;
        let link = self.bind(link).fetch_one(&mut *conn).await?;
        let subscriptions = self.bind(subscriptions).fetch_all(&mut *conn).await?;
        finish_rows([intent, link].into_iter().chain(subscriptions))
    }

    fn bind<'q>(&'q self, sql: &'q str) -> AnyQuery<'q> {
        self.bind_onto(sqlx::query(sql))
    }

    /// Appends the ten values of [`FINISH_WRITES`]' numbering to `query`'s parameters.
    fn bind_onto<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        (1..=10).fold(query, |query, n| self.bind_nth(query, n))
    }

    /// Appends the value of parameter `$n` of [`FINISH_WRITES`] to `query`'s parameters.
    fn bind_nth<'q>(&'q self, query: AnyQuery<'q>, n: usize) -> AnyQuery<'q> {
        let outcome = self.outcome;
        match n {
            1 => query.bind(outcome.status.as_str()),
            2 => query.bind(self.new_movements),
            3 => query.bind(outcome.public_error.map(PublicError::as_str)),
            4 => query.bind(outcome.failure_reason.as_deref()),
            5 => query.bind(outcome.finished_at.millis()),
            6 => query.bind(self.intent_id.as_str()),
            7 => query.bind(self.link_status.as_str()),
            8 => query.bind(flag(outcome.status == IntentStatus::Succeeded)),
            9 => query.bind(outcome.credential_status.map(CredentialStatus::as_str)),
            _ => query.bind(self.link_id.as_str()),
        }
    }
}

/// What [`FINISH_WRITES`] returned, in order: the intent, the link, then the subscriptions.
fn finish_rows(
    mut rows: impl Iterator<Item = AnyRow>,
) -> anyhow::Result<(AnyRow, AnyRow, Subscriptions)> {
    let (Some(intent), Some(link)) = (rows.next(), rows.next()) else {
        anyhow::bail!("the intent or the link of a recording is missing");
    };
    let subscriptions = rows
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<anyhow::Result<_>>()?;
    Ok((intent, link, subscriptions))
}

/// A recording's writes that need nothing read back but what they return: the fetched
/// accounts' updates (returning the accounts), the new movements, the accounts' results, and
/// [`FINISH_WRITES`] (returning the intent, the link and the owner's subscriptions). Nothing
/// in them depends on an earlier one's answer, so on SQLite, when each generated statement
/// fits in one, they are one script: one round trip to the writer's thread instead of four
/// (BENCHMARKS.md, change 45).
struct MainWrites<'a> {
    accounts: Vec<(&'a AccountId, &'a AccountUpdate<'a>)>,
    movements: Vec<(&'a AccountId, &'a MovementData)>,
    intent_id: &'a RefreshIntentId,
    result_ids: &'a [RefreshIntentId],
    results: &'a [AccountResult],
    finish: Finish<'a>,
    now: i64,
}

/// What [`MainWrites`] returned.
struct Written {
    /// The updated accounts, in no particular order (see `accounts::updated_in_order`).
    accounts: Vec<AnyRow>,
    intent: AnyRow,
    link: AnyRow,
    subscriptions: Subscriptions,
}

impl MainWrites<'_> {
    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Written> {
        let fits = |rows: usize| rows <= ROWS_PER_INSERT;
        let one_script = super::is_sqlite(conn)
            && fits(self.accounts.len())
            && fits(self.movements.len())
            && fits(self.results.len());
        let results: Vec<(&RefreshIntentId, &AccountResult)> =
            self.result_ids.iter().zip(self.results).collect();
        if !one_script {
            return self.write_one_by_one(conn, &results).await;
        }
        // Every parameter is anonymous, bound in order: the generated rows', then
        // FINISH_WRITES' in the order they appear (SQLite's driver reads a numbered parameter
        // as a position in the whole list, and binds a statement's parameters up to its
        // highest number, so numbers after the rows' would not be bound).
        let mut script = Vec::with_capacity(4);
        let generated = [
            (ACCOUNT_UPDATES.as_str(), 14, self.accounts.len()),
            (NEW_MOVEMENT_ROWS, 17, self.movements.len()),
            (RESULT_ROWS, 9, results.len()),
        ];
        for (statement, width, rows) in generated {
            if rows > 0 {
                script.push(filled(statement, ParamStyle::Anonymous, rows, width));
            }
        }
        script.push(FINISH_ANONYMOUS.0.clone());
        let sql = script.join("; ");
        let mut query = sqlx::query(&sql);
        for (id, update) in &self.accounts {
            query = bind_account_update(query, id, update);
        }
        for (account, movement) in &self.movements {
            query = bind_new_movement(query, account, movement, self.now);
        }
        for (id, result) in &results {
            query = bind_result(query, self.intent_id, id, result, self.now);
        }
        for &n in &FINISH_ANONYMOUS.1 {
            query = self.finish.bind_nth(query, n);
        }
        let mut rows = query.fetch_all(&mut *conn).await?.into_iter();
        let accounts = rows.by_ref().take(self.accounts.len()).collect();
        let (intent, link, subscriptions) = finish_rows(rows)?;
        Ok(Written {
            accounts,
            intent,
            link,
            subscriptions,
        })
    }

    /// The same writes, statement after statement (on PostgreSQL, or more rows than one
    /// statement takes).
    async fn write_one_by_one(
        &self,
        conn: &mut AnyConnection,
        results: &[(&RefreshIntentId, &AccountResult)],
    ) -> anyhow::Result<Written> {
        let accounts = write_rows(conn, &ACCOUNT_UPDATES, 14, &self.accounts, |q, (id, u)| {
            bind_account_update(q, id, u)
        })
        .await?;
        let (intent_id, now) = (self.intent_id, self.now);
        let movements = RowWrite::new(NEW_MOVEMENT_ROWS, 17, &self.movements, |q, (a, m)| {
            bind_new_movement(q, a, m, now)
        });
        let results = RowWrite::new(RESULT_ROWS, 9, results, |q, (id, r)| {
            bind_result(q, intent_id, id, r, now)
        });
        insert_rows_together(conn, movements, results).await?;
        let (intent, link, subscriptions) = self.finish.write(conn).await?;
        Ok(Written {
            accounts,
            intent,
            link,
            subscriptions,
        })
    }
}

/// SQLite's script of [`FINISH_WRITES`] with anonymous parameters, and the number each
/// stands for, in order.
static FINISH_ANONYMOUS: LazyLock<(String, Vec<usize>)> =
    LazyLock::new(|| super::row_writes::anonymous(&FINISH_SQL.1));
