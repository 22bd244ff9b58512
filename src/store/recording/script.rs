//! A recording's writes that need nothing read back but what they return, and how they are
//! sent: on SQLite as one script (one round trip to the writer's thread), on PostgreSQL one
//! statement after another.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, QueryBuilder, Row};

use super::accounts::{bind_account_update, AccountUpdate, ACCOUNT_UPDATES};
use super::results::{bind_result, AccountResult, RESULT_ROWS};
use crate::domain::*;
use crate::store::events::{subscriptions_sql, Subscriptions};
use crate::store::intents::intent_columns;
use crate::store::links::link_columns;
use crate::store::movements::{bind_new_movement, NEW_MOVEMENT_ROWS};
use crate::store::row_writes::{anonymous, ROWS_PER_INSERT};
use crate::store::rows::AnyQuery;
use crate::store::{flag, insert_rows_together, RowWrite};

/// The intent's final state, the first of [`FINISH_WRITES`].
macro_rules! finish_intent {
    () => {
        concat!(
            "UPDATE refresh_intents SET status = $1, new_movements = $2, public_error = $3,
         failure_reason = $4, finished_at = $5, mfa_challenge = NULL, mfa_session = NULL
     WHERE id = $6 RETURNING ",
            intent_columns!()
        )
    };
}

/// The link's refresh status and fields, the second of [`FINISH_WRITES`].
macro_rules! finish_link {
    () => {
        concat!(
            "UPDATE links SET refresh_status = $7,
         last_time_refreshed = CASE WHEN $8 = 1 THEN $5 ELSE last_time_refreshed END,
         credential_status = COALESCE($9, credential_status),
         refresh_count = refresh_count + 1
     WHERE id = $10 RETURNING ",
            link_columns!()
        )
    };
}

/// The subscriptions of the link's owner, the last of [`FINISH_WRITES`].
macro_rules! finish_subscriptions {
    () => {
        subscriptions_sql!(
            "(e.organization_id, e.mode) = (SELECT organization_id, mode FROM links WHERE id = $10)"
        )
    };
}

/// The last writes of a recording, which return what the events describe: the intent's final
/// state, the link's fields, and the subscriptions of the link's owner. Their parameters are
/// one numbering (`$1` status, `$2` new movements, `$3` public error, `$4` failure reason, `$5`
/// now, `$6` intent, `$7` the link's refresh status, `$8` succeeded, `$9` credential status,
/// `$10` link), bound to every statement as in a create (see `refresh::CREATE_SCRIPT`).
const FINISH_WRITES: [&str; 3] = [finish_intent!(), finish_link!(), finish_subscriptions!()];

/// SQLite's script of [`FINISH_WRITES`].
const FINISH_SCRIPT: &str = concat!(
    finish_intent!(),
    "; ",
    finish_link!(),
    "; ",
    finish_subscriptions!()
);

/// [`FINISH_SCRIPT`] with anonymous parameters, and the number each stands for, in order (for
/// a script that starts with generated rows; see [`MainWrites::write`]).
const FINISH_ANONYMOUS: (&str, &[usize]) = anonymous!(FINISH_SCRIPT);

/// What [`FINISH_WRITES`] are bound with.
pub(super) struct Finish<'a> {
    pub(super) outcome: &'a RefreshOutcome,
    pub(super) link_status: RefreshStatus,
    pub(super) new_movements: i64,
    pub(super) intent_id: &'a RefreshIntentId,
    pub(super) link_id: &'a LinkId,
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
        if crate::store::is_sqlite(conn) {
            let rows = self.bind(FINISH_SCRIPT).fetch_all(&mut *conn).await?;
            return finish_rows(rows.into_iter());
        }
        let [intent, link, subscriptions] = FINISH_WRITES;
        let intent = self.bind(intent).fetch_one(&mut *conn).await?;
        let link = self.bind(link).fetch_one(&mut *conn).await?;
        let subscriptions = self.bind(subscriptions).fetch_all(&mut *conn).await?;
        finish_rows([intent, link].into_iter().chain(subscriptions))
    }

    /// `sql` with the ten values of [`FINISH_WRITES`]' numbering bound.
    fn bind<'q>(&'q self, sql: &'q str) -> AnyQuery<'q> {
        (1..=10).fold(sqlx::query(sql), |query, n| self.bind_nth(query, n))
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
/// fits in one, they are one script: one round trip to the writer's thread instead of four.
pub(super) struct MainWrites<'a> {
    pub(super) accounts: Vec<(&'a AccountId, &'a AccountUpdate<'a>)>,
    pub(super) movements: Vec<(&'a AccountId, &'a MovementData)>,
    pub(super) intent_id: &'a RefreshIntentId,
    pub(super) result_ids: &'a [RefreshIntentId],
    pub(super) results: &'a [AccountResult],
    pub(super) finish: Finish<'a>,
    pub(super) now: i64,
}

/// What [`MainWrites`] returned.
pub(super) struct Written {
    /// The updated accounts, in no particular order (see `accounts::updated_in_order`).
    pub(super) accounts: Vec<AnyRow>,
    pub(super) intent: AnyRow,
    pub(super) link: AnyRow,
    pub(super) subscriptions: Subscriptions,
}

impl MainWrites<'_> {
    pub(super) async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Written> {
        let results: Vec<(&RefreshIntentId, &AccountResult)> =
            self.result_ids.iter().zip(self.results).collect();
        let (intent_id, now) = (self.intent_id, self.now);
        let accounts = RowWrite::new(ACCOUNT_UPDATES, &self.accounts, |row, (id, update)| {
            bind_account_update(row, id, update)
        });
        let movements = RowWrite::new(NEW_MOVEMENT_ROWS, &self.movements, |row, (a, m)| {
            bind_new_movement(row, a, m, now)
        });
        let results = RowWrite::new(RESULT_ROWS, &results, |row, (id, r)| {
            bind_result(row, intent_id, id, r, now)
        });
        let fits = |rows: usize| rows <= ROWS_PER_INSERT;
        let one_script = crate::store::is_sqlite(conn)
            && fits(accounts.len())
            && fits(movements.len())
            && fits(results.len());
        if !one_script {
            // On PostgreSQL, or with more rows than one statement takes: statement after
            // statement.
            let accounts = accounts.fetch_all(conn).await?;
            insert_rows_together(conn, movements, results).await?;
            let (intent, link, subscriptions) = self.finish.write(conn).await?;
            return Ok(Written {
                accounts,
                intent,
                link,
                subscriptions,
            });
        }
        // Every parameter is anonymous, bound in order: the generated rows', then
        // FINISH_WRITES' in the order they appear (SQLite's driver reads a numbered parameter
        // as a position in the whole list, and binds a statement's parameters up to its
        // highest number, so numbers after the rows' would not be bound).
        let mut script = QueryBuilder::new("");
        accounts.push_to_script(&mut script);
        movements.push_to_script(&mut script);
        results.push_to_script(&mut script);
        script.push(FINISH_ANONYMOUS.0);
        let mut query = script.build();
        for &n in FINISH_ANONYMOUS.1 {
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
}
