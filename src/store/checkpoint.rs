//! SQLite's WAL checkpoints, off the writer's path.
//!
//! In WAL mode every commit appends to the `-wal` file, and a checkpoint copies those pages
//! back into the database file (and fsyncs it) so the WAL can start over. By default the
//! connection whose commit takes the WAL past 1,000 pages runs that checkpoint inside its
//! commit: here that is always the one writer, so every few groups a commit took several
//! times longer (S2: 8–10 ms against 1.5–2.5 ms) while every other write waited for it.
//!
//! Here a connection of its own (no memory map, no writes of its own) checkpoints in the
//! background a few times a second, in `PASSIVE` mode: it never waits for, nor blocks, the
//! writer or the readers, which go on meanwhile. The writer still checkpoints itself past
//! [`WRITER_BACKSTOP_PAGES`], so the WAL stays bounded if this task falls behind.

use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::mpsc;

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(200);

/// WAL pages (4 KiB each) past which the writer checkpoints inside its own commit, as SQLite
/// does by default at 1,000: only if the background checkpoints fall behind.
pub(super) const WRITER_BACKSTOP_PAGES: i64 = 10_000;

/// Runs the background checkpoints until dropped (with every clone of the store).
#[derive(Clone, Debug)]
pub(super) struct Checkpointer {
    _running: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing through `pool` (one connection of its own).
    pub(super) fn start(pool: AnyPool) -> Self {
        let (running, mut stopped) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Every sender is gone: the store was dropped.
                    _ = stopped.recv() => break,
                    () = tokio::time::sleep(EVERY) => {}
                }
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the writer will run one");
                }
            }
            pool.close().await;
        });
        Self { _running: running }
    }
}
