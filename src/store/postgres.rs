//! The PostgreSQL backend: one pool shared by reads and writes; several Refresco processes may
//! share one database. Migrations run only when asked (`refresco migrate` or `serve --migrate`),
//! because in a fleet one deploy step should own schema changes.

use anyhow::{bail, Context};
use sqlx::any::AnyConnectOptions;
use sqlx::migrate::Migrator;

use super::{pool_options, Dialect, Store};

/// PostgreSQL migrations, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process.
const CONNECTIONS: u32 = 16;

/// Connects, and migrates when `migrate` is set; otherwise checks the schema is current.
pub(super) async fn open(url: &str, migrate: bool) -> anyhow::Result<Store> {
    // The URL may hold a password: never echo it in errors.
    let options: AnyConnectOptions = url
        .parse()
        .map_err(|_| anyhow::anyhow!("the PostgreSQL URL could not be parsed"))?;
    let pool = pool_options(CONNECTIONS)
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL")?;
    if migrate {
        MIGRATOR
            .run(&pool)
            .await
            .context("applying PostgreSQL migrations")?;
    } else {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .unwrap_or(None);
        if applied.unwrap_or(0) < latest {
            bail!(
                "the PostgreSQL schema is not up to date: run `refresco migrate` \
                 (or start with `serve --migrate`)"
            );
        }
    }
    Ok(Store::new(pool.clone(), pool, Dialect::Postgres))
}
