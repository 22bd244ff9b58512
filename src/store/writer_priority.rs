//! A higher CPU priority for the thread of SQLite's one write connection.
//!
//! Every write of the process passes through that thread (see `group_commit`), so when the
//! machine's cores are busy with the HTTP server, the readers and the workers, each time it
//! waits for a core every writer waits with it. In S2 it was preempted ~2,500 times a second
//! on two cores, and renicing it to −10 by hand gave +16% refreshes/s in a same-run A/B.
//!
//! sqlx runs each SQLite connection on a thread of its own that it names
//! `sqlx-sqlite-worker-N` (the kernel keeps the first 15 bytes: `sqlx-sqlite-wor`) and offers
//! no hook that runs on it. So the store lists those threads before and after opening its
//! write connection; when exactly one appeared, it is the writer's, and it is reniced. When
//! several appeared (another store of the same process connecting at that moment: tests), or
//! the process may not raise a priority (without `CAP_SYS_NICE` a process can only lower
//! them), the writer keeps the default priority and works as before.

use std::collections::BTreeSet;

/// The nice value the writer's thread gets (0 is the default; lower runs first).
pub const WRITER_NICE: i32 = -10;

/// Held while a store opens its write connection, so that the thread that appears is its own.
static OPENING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `connect`, the opening of a store's SQLite write connection, and raises the priority
/// of the connection thread it started; answers what `connect` did and, when the priority was
/// raised, that thread's id.
pub async fn connect_raised<T>(connect: impl std::future::Future<Output = T>) -> (T, Option<u32>) {
    let opening = OPENING.lock().await;
    let before = sqlite_threads();
    let connected = connect.await;
    let after = sqlite_threads();
    drop(opening);
    (connected, raise_new_thread(&before, &after))
}

/// The threads of this process that run a SQLite connection, by id.
fn sqlite_threads() -> BTreeSet<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return BTreeSet::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let id = task.file_name().to_str()?.parse().ok()?;
            comm.starts_with("sqlx-sqlite-wor").then_some(id)
        })
        .collect()
}

/// Raises the priority of the one thread in `after` that is not in `before`; the thread's id
/// when it was raised.
fn raise_new_thread(before: &BTreeSet<u32>, after: &BTreeSet<u32>) -> Option<u32> {
    let mut new = after.difference(before);
    let (Some(&thread), None) = (new.next(), new.next()) else {
        tracing::debug!("the SQLite writer's thread is not told apart; its priority stays");
        return None;
    };
    match set_nice(thread, WRITER_NICE) {
        Ok(()) => Some(thread),
        Err(e) => {
            tracing::debug!(error = %e, "the SQLite writer's priority cannot be raised here");
            None
        }
    }
}

/// The nice value of thread `thread` of this process.
#[cfg(test)]
pub fn nice_of(thread: u32) -> std::io::Result<i32> {
    Ok(rustix::process::getpriority_process(Some(pid(thread)?))?)
}

fn set_nice(thread: u32, nice: i32) -> std::io::Result<()> {
    // On Linux, PRIO_PROCESS with a thread's id sets that thread's nice value alone.
    Ok(rustix::process::setpriority_process(
        Some(pid(thread)?),
        nice,
    )?)
}

fn pid(thread: u32) -> std::io::Result<rustix::process::Pid> {
    i32::try_from(thread)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("{thread} is not a thread id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlite_stores_writer_runs_at_a_higher_priority_where_the_process_may_raise_it() {
        // Root or CAP_SYS_NICE may raise a priority; try it on a thread of its own (on Linux
        // "the process" 0 is the calling thread).
        let may_raise =
            std::thread::spawn(|| rustix::process::setpriority_process(None, WRITER_NICE).is_ok())
                .join()
                .unwrap();
        // A store opened by a test running beside this one can make the writer's thread
        // ambiguous for one open (a reader's thread starting at that moment); five opens in
        // a row each meeting one is not a case this suite produces.
        let mut raised = None;
        for _ in 0..5 {
            let (_dir, store) = super::super::sqlite::temp_store().await;
            let nobody = store.organization_by_name("nobody").await.unwrap();
            assert!(nobody.is_none(), "the store answers either way");
            if let Some(thread) = store.writer_thread {
                assert!(may_raise, "raised without the right to");
                assert!(
                    sqlite_threads().contains(&thread),
                    "a SQLite connection's thread"
                );
                raised = Some(nice_of(thread).unwrap());
                break;
            }
        }
        if may_raise {
            assert_eq!(raised, Some(WRITER_NICE));
        } else {
            assert_eq!(raised, None);
        }
    }
}
