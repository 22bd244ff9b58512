//! PostgreSQL's own ceiling for S1, measured in the same run: `connections` connections of
//! this process's own client (sqlx) each doing single-row autocommit `INSERT`s into a table of
//! the same columns as `refresh_intents` (copied with `LIKE`, with only a primary key), each row
//! a copy of an intent S1 created. What a create costs beyond that is Refresco's.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::Row;

use super::load::{closed_loop, LoadOutcome};

/// Inserts into a copy of `refresh_intents` on `database_url` for `duration`.
pub async fn measure(
    database_url: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadOutcome> {
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(connections)?)
        .min_connections(u32::try_from(connections)?)
        .connect(database_url)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_ceiling (LIKE refresh_intents INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
    )
    .execute(&pool)
    .await?;
    sqlx::query("ALTER TABLE bench_ceiling ADD PRIMARY KEY (id)")
        .execute(&pool)
        .await?;
    let columns: Vec<(String, String)> = sqlx::query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_name = 'refresh_intents' AND column_name <> 'id' ORDER BY ordinal_position",
    )
    .fetch_all(&pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .collect::<anyhow::Result<_>>()?;
    // One created intent's values, as text, cast back to each column's type in the insert.
    let select = columns
        .iter()
        .map(|(name, _)| format!("{name}::text"))
        .collect::<Vec<_>>()
        .join(", ");
    let template = sqlx::query(&format!(
        "SELECT {select} FROM refresh_intents ORDER BY created_at DESC LIMIT 1"
    ))
    .fetch_one(&pool)
    .await?;
    let values: Vec<Option<String>> = (0..columns.len())
        .map(|i| template.try_get(i))
        .collect::<Result<_, _>>()?;
    let names = columns
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let params = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("CAST(${} AS {ty})", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = Arc::new(format!(
        "INSERT INTO bench_ceiling (id, {names}) VALUES ($1, {params})"
    ));
    let values = Arc::new(values);
    let outcome = closed_loop(connections, duration, None, move |i| {
        let (pool, sql, values) = (pool.clone(), sql.clone(), values.clone());
        async move {
            let mut query = sqlx::query(&sql).bind(format!("ceiling{i}"));
            for value in values.iter() {
                query = query.bind(value.as_deref());
            }
            query
                .execute(&pool)
                .await
                .map(|_| ())
                .map_err(|e| format!("insert: {e}"))
        }
    })
    .await?;
    Ok(outcome)
}
