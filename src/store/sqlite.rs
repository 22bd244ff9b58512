//! The embedded SQLite backend: a file in the data directory, WAL mode, `synchronous=FULL` (a
//! write is on disk before it is acknowledged), one writer connection and a pool of readers.

use std::path::Path;

use anyhow::Context;
use sqlx::any::AnyConnectOptions;
use sqlx::migrate::Migrator;
use sqlx::Executor;

use super::{pool_options, Dialect, Store};

/// SQLite migrations, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Read connections. Readers never block the writer in WAL mode.
const READERS: u32 = 8;

/// Opens (creating if needed) and migrates the database file at `path`.
pub(super) async fn open(path: &Path) -> anyhow::Result<Store> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let options: AnyConnectOptions = url
        .parse()
        .with_context(|| format!("SQLite path {} is not usable", path.display()))?;

    // The writer's connection lives as long as the store, and its thread gets a higher
    // priority where the process may raise it (see `writer_priority`).
    let connect = pool_options(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .after_connect(|conn, _| {
            Box::pin(async move {
                configure(conn, 0).await?;
                // Checkpoints run in the background (see `checkpoint`); this is the backstop.
                conn.execute(
                    format!(
                        "PRAGMA wal_autocheckpoint = {}",
                        super::checkpoint::WRITER_BACKSTOP_PAGES
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options.clone());
    #[cfg(target_os = "linux")]
    let (write, writer_thread) = super::writer_priority::connect_raised(connect).await;
    #[cfg(not(target_os = "linux"))]
    let (write, writer_thread) = (connect.await, None);
    let write = write.with_context(|| format!("opening SQLite database {}", path.display()))?;
    // WAL is a property of the file: set it once, before readers connect.
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&write)
        .await?;
    MIGRATOR
        .run(&write)
        .await
        .context("applying SQLite migrations")?;
    let read = pool_options(READERS)
        .after_connect(|conn, _| Box::pin(async move { configure(conn, MMAP_BYTES).await }))
        .connect_with(options.clone())
        .await?;
    let checkpoints = pool_options(1)
        .after_connect(|conn, _| Box::pin(async move { configure(conn, 0).await }))
        .connect_with(options)
        .await?;
    let mut store = Store::new(read, write, Dialect::Sqlite);
    store.writer_thread = writer_thread;
    store.checkpointer = Some(super::checkpoint::Checkpointer::start(checkpoints));
    Ok(store)
}

/// How much of the database file readers read through a memory map: the most this SQLite
/// build allows (`SQLITE_MAX_MMAP_SIZE`, just under 2 GiB). It is address space, not memory:
/// the pages are the OS page cache, shared by every connection, and only those read are
/// resident (they count in the process's RSS as shared file pages, which the OS can drop at
/// any time). Beyond the map, every page costs a `pread` system call and a copy: on 5 million
/// movements, a 256 MiB map served half as many movement pages a second as this one.
///
/// The writer maps nothing. Its reads are few and mostly of pages it has just written, which
/// its own page cache holds; mapped, every page a checkpoint put back in the file and the
/// kernel mapped around a read counted in the process's RSS: in S3, up to 270 MB of the file
/// while 10,000 refreshes were recorded. S2 and S5 on a 30,000 backlog did not move without
/// the map. (S5 on a 100,000 backlog lost up to ~8% then, while its claims still read the
/// whole backlog.)
const MMAP_BYTES: i64 = 0x7fff_0000;

/// Per-connection settings. `synchronous = FULL` keeps every acknowledged write durable; the
/// busy timeout lets another process (a CLI command) hold the write lock briefly;
/// `mmap_bytes` of the file are read through a memory map (see `MMAP_BYTES`).
///
/// `temp_store = MEMORY` keeps SQLite's temporary files in memory. The one that matters is
/// the writer's savepoint journal: every grouped create and recording runs in a savepoint
/// (see `group_commit`), whose journal holds the original of each page the savepoint changes
/// and went to a file in `/var/tmp` past 64 KiB, so most recordings wrote it there: four
/// times as many `pwrite` calls as the WAL itself in S2. Nothing in it needs to outlive the
/// transaction.
async fn configure(conn: &mut sqlx::AnyConnection, mmap_bytes: i64) -> Result<(), sqlx::Error> {
    conn.execute(
        format!(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;
             PRAGMA mmap_size = {mmap_bytes}; PRAGMA temp_store = MEMORY;"
        )
        .as_str(),
    )
    .await?;
    Ok(())
}

/// A store on a new SQLite file in a temporary directory, which lives as long as the guard
/// returned with it: for the store's unit tests.
#[cfg(test)]
pub(super) async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    sqlx::any::install_default_drivers();
    let store = open(&dir.path().join("refresco.db")).await.unwrap();
    (dir, store)
}

#[cfg(test)]
mod tests {
    /// The build settings in `.cargo/config.toml` reach the bundled SQLite: without them every
    /// allocation and page fetch of every connection takes a process-wide mutex.
    #[tokio::test]
    async fn bundled_sqlite_has_no_process_wide_hot_path_mutexes() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "memory statistics are on: {options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "connections share one page cache: {options:?}"
        );
    }

    /// Readers' memory map is as large as asked (SQLite silently caps `mmap_size` at its
    /// compile-time maximum, so a larger setting would read as smaller here); the writer's is
    /// off; temporary files are in memory.
    #[tokio::test]
    async fn readers_map_the_whole_allowed_size_and_the_writer_nothing() {
        let (_dir, store) = super::temp_store().await;
        let mapped: i64 = sqlx::query_scalar("PRAGMA mmap_size")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(mapped, super::MMAP_BYTES);
        let writer_mapped: i64 = sqlx::query_scalar("PRAGMA mmap_size")
            .fetch_one(&store.write)
            .await
            .unwrap();
        assert_eq!(writer_mapped, 0);
        // Savepoint journals and sort trees stay in memory (2 = MEMORY), on every connection.
        for pool in [&store.write, &store.read] {
            let temp_store: i64 = sqlx::query_scalar("PRAGMA temp_store")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(temp_store, 2);
        }
    }

    /// Checkpoints run in the background: a write reaches the database file itself (read here
    /// with `immutable`, which ignores the WAL) without the writer checkpointing, whose own
    /// threshold is far above the few pages written here.
    #[tokio::test]
    async fn the_wal_is_checkpointed_in_the_background() {
        use sqlx::sqlite::SqliteConnectOptions;
        use sqlx::ConnectOptions;
        let (dir, store) = super::temp_store().await;
        let path = dir.path().join("refresco.db");
        let backstop: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.write)
            .await
            .unwrap();
        assert_eq!(backstop, crate::store::checkpoint::WRITER_BACKSTOP_PAGES);
        sqlx::query("CREATE TABLE marks (m TEXT); INSERT INTO marks VALUES ('written')")
            .execute(&store.write)
            .await
            .unwrap();
        let in_file = || async {
            let mut file_only = SqliteConnectOptions::new()
                .filename(&path)
                .immutable(true)
                .connect()
                .await
                .unwrap();
            sqlx::query_scalar::<_, String>("SELECT m FROM marks")
                .fetch_optional(&mut file_only)
                .await
                .ok()
                .flatten()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut found = in_file().await;
        while found.is_none() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            found = in_file().await;
        }
        assert_eq!(found.as_deref(), Some("written"));
    }

    /// Generated rows of parameters are anonymous on SQLite (see `ParamStyle` for the cost of
    /// numbered ones); PostgreSQL's tests fail at once if it were given `?`s.
    #[tokio::test]
    async fn generated_rows_bind_anonymous_parameters() {
        let (_dir, store) = super::temp_store().await;
        let mut conn = store.write.acquire().await.unwrap();
        let style = crate::store::row_writes::ParamStyle::of(&conn);
        assert_eq!(style, crate::store::row_writes::ParamStyle::Anonymous);
        let mut builder = sqlx::QueryBuilder::new("SELECT * FROM (");
        builder.push_values([(1_i64, "a"), (2_i64, "b")], |mut row, (n, text)| {
            row.push_bind(n).push_bind(text);
        });
        builder.push(")");
        assert_eq!(style.written(builder.sql()), builder.sql());
        let rows: Vec<(i64, String)> = builder
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        assert_eq!(
            rows,
            [(1, "a".to_owned()), (2, "b".to_owned())],
            "bound in order"
        );
    }
}
