//! A connection pool that measures every wait for a connection: the store's two pools are
//! these, so each query, transaction and group commit, on either backend, is timed in one
//! place (`refresco_db_pool_acquire_seconds`, by `pool`). Queries take `&Pool` as they took
//! `&AnyPool`: it is an [`Executor`] that acquires, measured, then runs on the connection.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Describe, Either, Execute, Executor, Transaction};

use crate::metrics::Metrics;

/// One of the store's pools, named for the metric (`read` or `write`).
#[derive(Clone, Debug)]
pub(super) struct Pool {
    inner: AnyPool,
    name: &'static str,
    metrics: Arc<Metrics>,
}

impl Pool {
    /// Measures `inner`'s acquires as `name`'s.
    pub(super) fn new(inner: AnyPool, name: &'static str, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            name,
            metrics,
        }
    }

    /// A connection, once one is free; the wait (a timeout's included) is recorded.
    pub(super) async fn acquire(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        let started = Instant::now();
        let connection = self.inner.acquire().await;
        self.metrics.db_acquire(self.name, started.elapsed());
        connection
    }

    /// A transaction begun with `BEGIN`.
    pub(super) async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        Transaction::begin(self.acquire().await?, None).await
    }

    /// A transaction begun with `statement` (SQLite's `BEGIN IMMEDIATE`).
    pub(super) async fn begin_with(
        &self,
        statement: &'static str,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        // What `AnyPool::begin_with` does, after a measured acquire.
        Transaction::begin(self.acquire().await?, Some(statement.into())).await
    }

    /// The pool itself, for its size and settings.
    pub(super) fn inner(&self) -> &AnyPool {
        &self.inner
    }
}

impl<'p> Executor<'p> for &'_ Pool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let pool = self.clone();
        // The results are gathered before they are handed on: a stream cannot hold the
        // connection its own items borrow. Every caller collects them anyway (`fetch_all`,
        // `execute`); none streams.
        let results = async move {
            let mut connection = pool.acquire().await?;
            let results: Vec<_> = connection.fetch_many(query).collect().await;
            Ok::<_, sqlx::Error>(stream::iter(results))
        };
        stream::once(results).try_flatten().boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.fetch_optional(query).await })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.describe(sql).await })
    }
}
