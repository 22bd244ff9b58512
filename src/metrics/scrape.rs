//! The gauges read at each scrape: the job queue, webhook endpoints and connection pools.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use metrics::Label;

use super::{names, Metrics};
use crate::store::operator::QueueReading;
use crate::store::Store;

/// Job states reported by [`names::JOBS`].
const JOB_STATES: [&str; 3] = ["ready", "running", "parked"];

/// Institutions seen in the queue so far: one whose jobs are all done is reported as 0, not
/// left at its last count.
#[derive(Debug, Default)]
pub(super) struct SeenInstitutions(Mutex<BTreeSet<String>>);

impl Metrics {
    /// Reads the database's gauges into the registry (before [`Metrics::render`]).
    pub async fn read_database(&self, store: &Store) -> anyhow::Result<()> {
        let queue = store.queue_reading().await?;
        self.set_queue(&queue);
        for pool in store.pool_readings() {
            for (state, value) in [("in_use", pool.in_use), ("idle", pool.idle)] {
                self.gauge(
                    names::DB_CONNECTIONS,
                    vec![Label::new("pool", pool.pool), Label::new("state", state)],
                    f64::from(value),
                );
            }
        }
        Ok(())
    }

    #[allow(clippy::cast_precision_loss)] // counts and milliseconds far below 2^53
    fn set_queue(&self, queue: &QueueReading) {
        let institutions = {
            let mut seen = self
                .seen_institutions
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            seen.extend(queue.jobs.iter().map(|j| j.institution.clone()));
            seen.clone()
        };
        for institution in &institutions {
            for state in JOB_STATES {
                let count = queue
                    .jobs
                    .iter()
                    .find(|j| j.state == state && &j.institution == institution)
                    .map_or(0, |j| j.count);
                self.gauge(
                    names::JOBS,
                    vec![
                        Label::new("state", state),
                        Label::new("institution", institution.clone()),
                    ],
                    count as f64,
                );
            }
        }
        let plain = [
            (
                names::OLDEST_READY_AGE,
                queue.oldest_ready_age_millis as f64 / 1000.0,
            ),
            (names::EXPIRED_LEASES, queue.expired_leases as f64),
            (names::PARKED_FOR_MFA, queue.in_state("parked") as f64),
            (names::ENDPOINTS_DISABLED, queue.endpoints_disabled as f64),
            (names::DELIVERIES_PENDING, queue.deliveries_pending as f64),
        ];
        for (name, value) in plain {
            self.gauge(name, Vec::new(), value);
        }
    }
}
