//! Storage: one narrow, domain-shaped interface over two real databases.
//!
//! Queries are runtime-checked SQL written once in a common dialect (numbered `$n` parameters,
//! `ON CONFLICT`, `RETURNING`, and only INTEGER/TEXT/BLOB columns) and run through sqlx's `Any`
//! driver; what truly differs (connection setup, pragmas, migrations, how writes are serialized)
//! lives in [`sqlite`] and [`postgres`]. Every query is exercised by the integration suite on
//! both backends. See `docs/storage.md` for why.
//!
//! Row types never leave this module: methods take and return domain types.
//!
//! Every method of `Store` is something the server does. Bulk writes for benchmarks and load
//! tests live apart, in [`seeding`] (reached through [`Store::seeding`]); the server never uses
//! them.

mod accounts;
mod checkpoint;
mod count_cache;
mod deliveries;
mod delivery_claims;
mod events;
mod group_commit;
mod idempotency;
pub mod institution_state;
mod intents;
mod jobs;
mod key_admin;
mod key_cache;
mod keys;
mod link_intents;
mod links;
mod movements;
pub mod operator;
mod pool;
pub mod postgres;
mod recording;
mod refresh;
mod row_writes;
mod rows;
pub mod schedule;
pub mod seeding;
mod trace_contexts;

// The generated-row helpers, for every module of the store.
use row_writes::{id_list, insert_rows, insert_rows_together, placeholders, write_rows, RowWrite};
pub mod sqlite;
mod webhooks;
#[cfg(target_os = "linux")]
mod writer_priority;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Transaction};

use crate::config::DatabaseTarget;

pub use deliveries::{AfterAttempt, DueDelivery};
pub use events::EventFilter;
pub use idempotency::{
    Fingerprint, IdempotencyClaim, IntentAnswer, KeyedCreate, StoredResponse, KEYED_PREFIX,
};
pub use jobs::{ClaimedJob, MfaState, RefreshWork};
pub use key_admin::{ApiKeyRecord, Organization, ReplacementKey, RotationError};
pub use keys::NewKeyPair;
pub use link_intents::{IntentReconnection, LinkIntentSecrets, NewLinkIntent, ParkedLogin};
pub use links::{FirstHistory, LinkPage, NewLink};
pub use movements::MovementFilter;
pub use refresh::NewRefreshIntent;
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
    /// of the `FROM` it is selected over, holding `columns` in order, the rows in `order`, or
    /// in no promised order with `None` (`[]` when there are none). Reads of hundreds of rows
    /// use it to bring them back as one value: each row of a result costs the drivers a
    /// channel hop (SQLite's connection thread to the caller), a copy of every value and a
    /// backend-neutral row, which was most of a page of movements' CPU; one text value and one
    /// parse cost a fraction.
    pub(super) fn json_rows(self, columns: &str, order: Option<&str>) -> String {
        let order = order
            .map(|order| format!(" ORDER BY {order}"))
            .unwrap_or_default();
        match self {
            Dialect::Sqlite => format!("json_group_array(json_array({columns}){order})"),
            Dialect::Postgres => {
                format!("COALESCE(json_agg(json_build_array({columns}){order}), '[]'::json)::text")
            }
        }
    }
}

/// The database, chosen once at start from the configuration.
#[derive(Clone, Debug)]
pub struct Store {
    /// Connections for reads.
    read: pool::Pool,
    /// Connections for writes. On SQLite this pool has exactly one connection, so writers queue
    /// in-process instead of failing with `SQLITE_BUSY`; on PostgreSQL it is the read pool
    /// (measured apart: the metric tells reads' waits from writes').
    write: pool::Pool,
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
    /// Totals of movement lists, with the version they were counted at (see `count_cache`).
    movement_counts: Arc<count_cache::CountCache>,
    /// SQLite on Linux: the id of the write connection's thread, when its priority was raised
    /// (see `writer_priority`).
    writer_thread: Option<u32>,
    /// This process's metrics: the store is the one handle every layer holds, so it carries
    /// them to the engine, the dispatcher and the HTTP layer.
    metrics: Arc<crate::metrics::Metrics>,
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
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let read = pool::Pool::new(read, "read", metrics.clone());
        let write = pool::Pool::new(write, "write", metrics.clone());
        let group_writer = (dialect == Dialect::Sqlite)
            .then(|| group_commit::GroupWriter::start(write.clone(), metrics.clone()));
        // SQLite: recordings go to the group writer, which commits those queued together;
        // this many share a group at most, so creates and heartbeats in the same group wait
        // for a bounded number of them. PostgreSQL: half the pool.
        let recorders = match dialect {
            Dialect::Sqlite => 32,
            Dialect::Postgres => (write.inner().options().get_max_connections() / 2).max(1),
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
            movement_counts: Arc::default(),
            writer_thread: None,
            metrics,
        }
    }

    /// This process's metrics registry.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
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
        self.write.inner().close().await;
        self.read.inner().close().await;
    }
}

/// Pool settings shared by both dialects.
fn pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
}

/// Whether `conn` is a SQLite connection (for the few statements written per engine).
pub(super) fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
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
