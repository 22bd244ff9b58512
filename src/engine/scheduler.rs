//! Scheduled refreshes: every active link is refreshed every `refresh_interval_ms` (or its
//! organization's override), as an `only_last` refresh intent that the worker runs and
//! records like an on-demand one, with the same events.
//!
//! A link's first due time is a random point in the second half of the interval after its
//! creation, and each later one a tenth of the interval either side of one interval after the
//! scheduler took it, so links created together spread out. Which process takes a due link is
//! decided by a compare-and-set of its due time (see `store::schedule`): each link gets one
//! scheduled intent per interval however many workers run. `run_once` is one round, with the
//! time given, for tests.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::EngineContext;
use crate::domain::*;
use crate::store::schedule::{DueLink, ScheduledOrganizations};

/// Links looked at per scheduler pass; a later pass takes the rest.
const BATCH: i64 = 200;

/// The scheduler of one process.
pub struct Scheduler {
    ctx: Arc<EngineContext>,
    /// When this scheduler last looked for links without a schedule.
    seeded_at: Mutex<Option<Instant>>,
}

impl Scheduler {
    /// A scheduler over `ctx`.
    pub fn new(ctx: Arc<EngineContext>) -> Self {
        Self {
            ctx,
            seeded_at: Mutex::new(None),
        }
    }

    /// Whether a pass run now looks for new links. That look reads every link (those without a
    /// schedule are found by an anti-join), so it runs once a minute at most, or every quarter
    /// of the shortest interval when that is shorter: a link's first due time is at least half
    /// an interval after its creation, so it is still ahead when the look finds the link.
    fn seeding_due(&self) -> bool {
        let config = &self.ctx.config;
        let shortest = std::iter::once(config.refresh_interval_ms)
            .chain(config.refresh_interval_by_organization.values().copied())
            .filter(|ms| *ms > 0)
            .min()
            .unwrap_or(0);
        let period = Duration::from_millis(shortest / 4).min(Duration::from_secs(60));
        let mut seeded_at = self
            .seeded_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seeded_at.is_some_and(|at| at.elapsed() < period) {
            return false;
        }
        *seeded_at = Some(Instant::now());
        true
    }

    /// The organizations with a schedule, or `None` when no organization has one.
    fn organizations(&self) -> Option<ScheduledOrganizations> {
        let config = &self.ctx.config;
        let overrides = &config.refresh_interval_by_organization;
        let pick = |on: bool| {
            overrides
                .iter()
                .filter(|(_, interval)| (**interval > 0) == on)
                .map(|(org, _)| org.clone())
                .collect::<Vec<_>>()
        };
        if config.refresh_interval_ms > 0 {
            Some(ScheduledOrganizations::AllExcept(pick(false)))
        } else {
            let only = pick(true);
            (!only.is_empty()).then_some(ScheduledOrganizations::Only(only))
        }
    }

    fn interval_millis(&self, organization: &str) -> i64 {
        let interval = self.ctx.config.refresh_interval_for(organization);
        i64::try_from(interval).unwrap_or(i64::MAX)
    }

    /// One round at `now` (the real clock, but in tests): gives new links their first due
    /// time, then creates the intents of the links that are due. Returns the intents this
    /// process created.
    pub async fn run_once(&self, now: Timestamp) -> anyhow::Result<Vec<RefreshIntentId>> {
        let Some(organizations) = self.organizations() else {
            return Ok(Vec::new());
        };
        if self.seeding_due() {
            // Until none is left: each look takes a batch.
            loop {
                let batch = self
                    .ctx
                    .store
                    .unscheduled_links(&organizations, BATCH)
                    .await?;
                for link in &batch {
                    let interval = self.interval_millis(&link.organization_id);
                    let first = link.created_at + interval / 2 + jitter(0, interval / 2);
                    self.ctx
                        .store
                        .schedule_link(&link.link_id, Timestamp::from_millis(first))
                        .await?;
                }
                if batch.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                    break;
                }
            }
        }
        let mut created = Vec::new();
        for due in self.ctx.store.due_links(&organizations, now, BATCH).await? {
            if let Some(id) = self.claim(&due, now).await? {
                created.push(id);
            }
        }
        if !created.is_empty() {
            self.ctx.wake.notify_one();
        }
        Ok(created)
    }

    async fn claim(
        &self,
        due: &DueLink,
        now: Timestamp,
    ) -> anyhow::Result<Option<RefreshIntentId>> {
        let interval = self.interval_millis(&due.organization_id);
        let tenth = interval / 10;
        // From now, not from the due time: a scheduler that was down does not fire a burst
        // of overdue refreshes when it comes back.
        let next = now.millis() + interval - tenth + jitter(0, 2 * tenth);
        let id = RefreshIntentId::generate();
        // The intent itself lives on the real clock (its job runs when claimed, its deadline
        // and cooldown are real); `now` only says what is due.
        let created_at = Timestamp::now();
        let mode = self
            .ctx
            .store
            .claim_scheduled_refresh(
                due,
                Timestamp::from_millis(next),
                &id,
                created_at,
                created_at.plus_millis(self.ctx.refresh_timeout_millis()),
                self.ctx.config.cooldowns(),
            )
            .await?;
        Ok(mode.map(|mode| {
            self.ctx.store.metrics().intent_created(mode.as_str());
            tracing::info!(intent_id = %id, link_id = %due.link_id, "scheduled refresh created");
            id
        }))
    }

    /// Runs a round every `scheduler_poll_ms` until `shutdown` fires.
    pub async fn run(self, shutdown: CancellationToken) {
        if self.organizations().is_none() {
            return;
        }
        let poll = Duration::from_millis(self.ctx.config.scheduler_poll_ms);
        loop {
            if let Err(e) = self.run_once(Timestamp::now()).await {
                tracing::error!(error = format!("{e:#}"), "scheduling refreshes failed");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// A random number of milliseconds in `low..=high`.
fn jitter(low: i64, high: i64) -> i64 {
    if high <= low {
        return low;
    }
    rand::thread_rng().gen_range(low..=high)
}
