//! Storage: one narrow, domain-shaped interface over two real databases.
//!
//! Queries are runtime-checked SQL written once in a common dialect (numbered `$n` parameters,
//! `ON CONFLICT`, `RETURNING`, and only INTEGER/TEXT/BLOB columns) and run through sqlx's `Any`
//! driver; what truly differs (connection setup, pragmas, migrations, how writes are serialized)
//! lives in [`sqlite`] and [`postgres`]. Every query is exercised by the integration suite on
//! both backends. See `docs/storage.md` for why.
//!
//! Row types never leave this module: methods take and return domain types.

mod accounts;
mod bench_seed;
mod checkpoint;
mod deliveries;
mod delivery_claims;
mod events;
mod group_commit;
mod idempotency;
mod ingest;
mod jobs;
mod key_cache;
mod keys;
mod link_intents;
mod links;
mod movements;
pub mod postgres;
mod recorded;
mod refresh;
mod rows;
pub mod sqlite;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Transaction};

use crate::config::DatabaseTarget;

pub use bench_seed::{BenchCounts, SeedLink};
pub use deliveries::{AfterAttempt, DueDelivery};
pub use events::EventFilter;
pub use idempotency::{IdempotencyClaim, StoredResponse};
pub use ingest::{AccountFetch, FetchedMovements, RecordedCounts, RefreshOutcome};
pub use jobs::{ClaimedJob, MfaState, RefreshWork};
pub use keys::NewKeyPair;
pub use link_intents::{LinkIntentSecrets, NewLinkIntent, ParkedLogin};
pub use links::{LinkPage, NewLink};
pub use movements::MovementFilter;
pub use recorded::{EventMaker, RecordedAccount, RecordedRefresh};
pub use refresh::{CreateRefreshError, NewRefreshIntent};
pub use webhooks::{EndpointPatch, NewEndpoint};

/// Which SQL engine is behind the pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite: one writer connection, many readers.
    Sqlite,
    /// PostgreSQL: one shared pool.
    Postgres,
}

impl Dialect {
    /// The engine behind `conn`.
    pub(super) fn of(conn: &sqlx::AnyConnection) -> Self {
        if is_sqlite(conn) {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// A subquery of the strings in `param`, a JSON array of strings: for `IN (…)` lists of
    /// any length with one parameter.
    pub(super) fn text_list(self, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT value FROM json_each({param})"),
            Dialect::Postgres => format!("SELECT json_array_elements_text(CAST({param} AS json))"),
        }
    }

    /// An aggregate expression whose value is the text `[[…], […]]`: one JSON array per row
    /// of the `FROM` it is selected over, holding `columns` in order, the rows in `order`
    /// (`[]` when there are none). Reads of hundreds of rows use it to bring them back as one
    /// value: each row of a result costs the drivers a channel hop (SQLite's connection
    /// thread to the caller), a copy of every value and a backend-neutral row, which was
    /// most of a page of movements' CPU; one text value and one parse cost a fraction.
    pub(super) fn json_rows(self, columns: &str, order: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_group_array(json_array({columns}) ORDER BY {order})"),
            Dialect::Postgres => format!(
                "COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]'::json)::text"
            ),
        }
    }
}

/// The database, chosen once at start from the configuration.
#[derive(Clone, Debug)]
pub struct Store {
    /// Connections for reads.
    read: AnyPool,
    /// Connections for writes. On SQLite this pool has exactly one connection, so writers queue
    /// in-process instead of failing with `SQLITE_BUSY`; on PostgreSQL it is the read pool.
    write: AnyPool,
    dialect: Dialect,
    /// SQLite only: the task that commits refresh-intent creates, heartbeats and recordings in
    /// groups.
    group_writer: Option<group_commit::GroupWriter>,
    /// SQLite only: the background WAL checkpoints (see `checkpoint`).
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Recordings allowed to wait for the database at once (at the group writer on SQLite,
    /// for a pool connection on PostgreSQL). When thousands of refreshes come back from the
    /// bank together, the rest wait here, in memory and without a timeout, instead of filling
    /// the pool's queue: there they would fail on its acquire timeout, and the heartbeats and
    /// creates queued behind them would wait for every recording ahead (leases would expire
    /// and jobs be claimed again).
    recorders: Arc<tokio::sync::Semaphore>,
    recorders_max: usize,
    /// Principals of keys used lately (see `key_cache`: stored keys never change).
    key_cache: Arc<key_cache::KeyCache>,
}

/// A page request, already validated (page ≥ 1, 1 ≤ per_page ≤ 300).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl PageRequest {
    /// SQL `LIMIT`.
    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
    /// SQL `OFFSET`.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

/// One page of a list, and the total across pages (for `X-Total-Count`).
#[derive(Debug)]
pub struct Paged<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// Items across every page.
    pub total: u64,
}

impl<T> Paged<T> {
    /// Maps fetched rows into a page; `count` is the `COUNT(*)` across pages.
    fn from_rows(
        rows: &[sqlx::any::AnyRow],
        count: i64,
        map: impl Fn(&sqlx::any::AnyRow) -> anyhow::Result<T>,
    ) -> anyhow::Result<Self> {
        Ok(Paged {
            items: rows.iter().map(map).collect::<anyhow::Result<_>>()?,
            total: to_total(count),
        })
    }
}

impl Store {
    /// Opens (and on SQLite creates and migrates) the configured database. On PostgreSQL,
    /// `migrate` applies pending migrations; without it, a schema that is behind is an error
    /// that says to run `refresco migrate`.
    pub async fn open(target: &DatabaseTarget, migrate: bool) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        match target {
            DatabaseTarget::Sqlite(path) => sqlite::open(path).await,
            DatabaseTarget::Postgres(url) => postgres::open(url.expose(), migrate).await,
        }
    }

    fn new(read: AnyPool, write: AnyPool, dialect: Dialect) -> Self {
        let group_writer =
            (dialect == Dialect::Sqlite).then(|| group_commit::GroupWriter::start(write.clone()));
        // SQLite: recordings go to the group writer, which commits those queued together;
        // this many share a group at most, so creates and heartbeats in the same group wait
        // for a bounded number of them. PostgreSQL: half the pool.
        let recorders = match dialect {
            Dialect::Sqlite => 32,
            Dialect::Postgres => (write.options().get_max_connections() / 2).max(1),
        };
        Self {
            read,
            write,
            dialect,
            group_writer,
            checkpointer: None,
            recorders: Arc::new(tokio::sync::Semaphore::new(recorders as usize)),
            recorders_max: recorders as usize,
            key_cache: Arc::default(),
        }
    }

    /// The engine behind this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a write transaction. On SQLite it begins `IMMEDIATE`, taking the write lock up
    /// front, so a transaction that reads then writes cannot fail half-way on a lock upgrade
    /// when another process (a CLI command) writes too.
    async fn begin(&self) -> anyhow::Result<Transaction<'static, Any>> {
        let tx = match self.dialect {
            Dialect::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.write.begin().await,
        };
        tx.context("beginning a transaction")
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Pool settings shared by both dialects.
fn pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
}

/// Rows per multi-row statement (`INSERT … VALUES`, `UPDATE … FROM (VALUES …)`): with up to
/// 17 parameters a row, a statement stays far below both engines' limits (SQLite 32,766,
/// PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 256;

/// Runs `statement` once per [`ROWS_PER_INSERT`] rows, with `{rows}` in it standing for
/// that many tuples of `width` parameters, which `bind` fills one row at a time.
async fn insert_rows<T>(
    conn: &mut sqlx::AnyConnection,
    statement: &str,
    width: usize,
    rows: &[T],
    bind: impl for<'q> Fn(rows::AnyQuery<'q>, &'q T) -> rows::AnyQuery<'q>,
) -> anyhow::Result<()> {
    write_rows(conn, statement, width, rows, bind).await?;
    Ok(())
}

/// One multi-row statement and its rows, as [`insert_rows`] takes them.
pub(super) struct RowWrite<'r, T, F> {
    statement: &'r str,
    width: usize,
    rows: &'r [T],
    bind: F,
}

impl<'r, T, F> RowWrite<'r, T, F>
where
    F: for<'q> Fn(rows::AnyQuery<'q>, &'q T) -> rows::AnyQuery<'q>,
{
    /// `statement` with `{rows}` standing for `rows`, each `width` parameters that `bind`
    /// fills. (Made here, not as a literal, so that `bind` is a closure for every lifetime.)
    pub(super) fn new(statement: &'r str, width: usize, rows: &'r [T], bind: F) -> Self {
        Self {
            statement,
            width,
            rows,
            bind,
        }
    }
}

/// Runs two multi-row statements, the first first. On SQLite, when each fits in one
/// statement, they run as one script: one round trip to the writer thread instead of two
/// (each round trip wakes that thread and then the caller's task; see BENCHMARKS.md, S2).
/// Their parameters are anonymous there, so the second's are bound after the first's.
/// Otherwise one after the other, as [`insert_rows`].
async fn insert_rows_together<A, B, FA, FB>(
    conn: &mut sqlx::AnyConnection,
    first: RowWrite<'_, A, FA>,
    second: RowWrite<'_, B, FB>,
) -> anyhow::Result<()>
where
    FA: for<'q> Fn(rows::AnyQuery<'q>, &'q A) -> rows::AnyQuery<'q>,
    FB: for<'q> Fn(rows::AnyQuery<'q>, &'q B) -> rows::AnyQuery<'q>,
{
    let one_statement = |rows: usize| (1..=ROWS_PER_INSERT).contains(&rows);
    let style = ParamStyle::of(conn);
    if style != ParamStyle::Anonymous
        || !one_statement(first.rows.len())
        || !one_statement(second.rows.len())
    {
        insert_rows(conn, first.statement, first.width, first.rows, first.bind).await?;
        insert_rows(
            conn,
            second.statement,
            second.width,
            second.rows,
            second.bind,
        )
        .await?;
        return Ok(());
    }
    let script = format!(
        "{}; {}",
        first
            .statement
            .replace("{rows}", &style.rows(first.rows.len(), first.width)),
        second
            .statement
            .replace("{rows}", &style.rows(second.rows.len(), second.width)),
    );
    let mut query = sqlx::query(&script);
    for row in first.rows {
        query = (first.bind)(query, row);
    }
    for row in second.rows {
        query = (second.bind)(query, row);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// [`insert_rows`] for statements that return rows (`INSERT … RETURNING`, `UPDATE … FROM
/// (VALUES {rows}) … RETURNING`): every row they return, chunk after chunk.
async fn write_rows<T>(
    conn: &mut sqlx::AnyConnection,
    statement: &str,
    width: usize,
    rows: &[T],
    bind: impl for<'q> Fn(rows::AnyQuery<'q>, &'q T) -> rows::AnyQuery<'q>,
) -> anyhow::Result<Vec<sqlx::any::AnyRow>> {
    let style = ParamStyle::of(conn);
    let mut returned = Vec::new();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = statement.replace("{rows}", &style.rows(chunk.len(), width));
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = bind(query, row);
        }
        returned.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(returned)
}

/// Whether `conn` is a SQLite connection (for the few statements written per engine).
pub(super) fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

/// How a statement whose only parameters are generated rows writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ParamStyle {
    /// `$1, $2, …`: PostgreSQL's only syntax.
    Numbered,
    /// `?, ?, …`, bound in order: on SQLite. For every numbered parameter it binds, sqlx asks
    /// SQLite for the parameter's name, which SQLite finds by walking the statement's list
    /// of names, so binding `n` numbered parameters takes `n²/2` steps: the 1,250 of one
    /// refresh's 50 movements took ~1.5 ms of the one writer, a fifth of S2's CPU. Anonymous
    /// parameters have no names to walk.
    Anonymous,
}

impl ParamStyle {
    /// The style for `conn`'s engine.
    pub(super) fn of(conn: &sqlx::AnyConnection) -> Self {
        match Dialect::of(conn) {
            Dialect::Sqlite => ParamStyle::Anonymous,
            Dialect::Postgres => ParamStyle::Numbered,
        }
    }

    /// `(…), (…)`: `rows` tuples of `width` parameters, the statement's only parameters.
    pub(super) fn rows(self, rows: usize, width: usize) -> String {
        match self {
            ParamStyle::Numbered => placeholders(rows, width, 0),
            ParamStyle::Anonymous => {
                let row = format!("({})", vec!["?"; width].join(", "));
                vec![row; rows].join(", ")
            }
        }
    }
}

/// `($a, $b, $c), (…)`: `rows` tuples of `width` numbered parameters, numbered after the
/// statement's `fixed` leading parameters.
pub(super) fn placeholders(rows: usize, width: usize, fixed: usize) -> String {
    let mut out = String::with_capacity(rows * width * 6);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..width {
            if col > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(fixed + 1 + row * width + col).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …`: `count` numbered parameters for an `IN (…)` list.
pub(super) fn id_list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Most rows one claim takes (jobs or deliveries): claimed ids travel as bound parameters,
/// which both engines limit; the claiming loops simply claim again.
const MAX_CLAIM: i64 = 1000;

/// Stores a boolean as 0/1 (see the migrations for why).
fn flag(value: bool) -> i16 {
    i16::from(value)
}

/// Counts rows of a `SELECT COUNT(*)` as an unsigned total.
fn to_total(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_after_the_fixed_parameters() {
        assert_eq!(super::placeholders(2, 2, 1), "($2, $3), ($4, $5)");
        assert_eq!(super::placeholders(1, 3, 0), "($1, $2, $3)");
        assert_eq!(super::ParamStyle::Numbered.rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(super::ParamStyle::Anonymous.rows(2, 2), "(?, ?), (?, ?)");
    }

    /// Two multi-row statements run together put each row's values in its own table and
    /// columns: as one SQLite script (the second's parameters bound after the first's), and one
    /// after the other when a statement would need more than one chunk of rows.
    #[tokio::test]
    async fn rows_written_together_land_in_their_own_statements() {
        use super::{insert_rows_together, RowWrite, ROWS_PER_INSERT};
        let dir = tempfile::tempdir().unwrap();
        sqlx::any::install_default_drivers();
        let store = super::sqlite::open(&dir.path().join("refresco.db"))
            .await
            .unwrap();
        let mut conn = store.write.acquire().await.unwrap();
        sqlx::query("CREATE TABLE pairs (a TEXT, b INTEGER); CREATE TABLE singles (c TEXT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        for (pairs, singles) in [(2, 3), (1, ROWS_PER_INSERT + 1)] {
            sqlx::query("DELETE FROM pairs; DELETE FROM singles")
                .execute(&mut *conn)
                .await
                .unwrap();
            let pair_rows: Vec<(String, i64)> = (0..pairs).map(|i| (format!("p{i}"), i)).collect();
            let single_rows: Vec<String> = (0..singles).map(|i| format!("s{i}")).collect();
            let first = RowWrite::new("INSERT INTO pairs VALUES {rows}", 2, &pair_rows, |q, r| {
                q.bind(r.0.as_str()).bind(r.1)
            });
            let second = RowWrite::new(
                "INSERT INTO singles VALUES {rows}",
                1,
                &single_rows,
                |q, r| q.bind(r.as_str()),
            );
            insert_rows_together(&mut conn, first, second)
                .await
                .unwrap();
            let stored_pairs: Vec<(String, i64)> =
                sqlx::query_as("SELECT a, b FROM pairs ORDER BY b")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(stored_pairs, pair_rows);
            let stored_singles: Vec<String> =
                sqlx::query_scalar("SELECT c FROM singles ORDER BY rowid")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(stored_singles, single_rows);
        }
    }
}
