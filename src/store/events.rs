//! Events: the outbox insert (inside the transaction of the change that causes the events, with
//! one pending delivery per subscribed endpoint) and reads.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::row_writes::{RowsStatement, Tuple};
use super::rows::get_time;
use super::{insert_rows, insert_rows_together, PageRequest, Paged, RowWrite, Store};
use crate::domain::*;

/// Filters of the events list.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only this type.
    pub event_type: Option<String>,
    /// Only events about this link.
    pub link_id: Option<LinkId>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// Samples too (left out unless asked for).
    pub include_samples: bool,
}

pub(super) fn event_from_row(row: &AnyRow) -> anyhow::Result<Event> {
    let mode: String = row.try_get("mode")?;
    Ok(Event {
        id: EventId::from_trusted(row.try_get("id")?),
        organization_id: OrganizationId::from_trusted(row.try_get("organization_id")?),
        mode: Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("bad mode"))?,
        event_type: row.try_get("event_type")?,
        link_id: row
            .try_get::<Option<String>, _>("link_id")?
            .map(LinkId::from_trusted),
        data: row.try_get("data")?,
        created_at: get_time(row, "created_at")?.unwrap_or(Timestamp::from_millis(0)),
        sample: super::rows::get_flag(row, "sample")?,
    })
}

/// `subscriptions_sql!(OWNER)`: the enabled webhook endpoints of an owner and the event types
/// each subscribes to (`*`: every type), ordered by endpoint; `OWNER` is the condition that
/// names the owner.
macro_rules! subscriptions_sql {
    ($owner:literal) => {
        concat!(
            "SELECT e.id, s.event_type FROM webhook_endpoints e
         JOIN webhook_endpoint_events s ON s.endpoint_id = e.id
         WHERE ",
            $owner,
            " AND e.deleted_at IS NULL AND e.disabled = 0
         ORDER BY e.id"
        )
    };
}
pub(super) use subscriptions_sql;

/// (endpoint id, event type) rows of [`subscriptions_sql`].
pub(super) type Subscriptions = Vec<(String, String)>;

/// Writes `events` and queues a delivery of each to every endpoint of `subscriptions` (read in
/// the same transaction) that subscribes to its type, all inside `tx`: an event exists if and
/// only if its change committed, and is delivered at least once. The events are stamped in
/// their order by [`stamp_events`].
pub(super) async fn insert_events(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    mode: Mode,
    events: &[NewEvent],
    subscriptions: &[(String, String)],
) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<&NewEvent> = events.iter().collect();
    let mut deliveries = Vec::new();
    for event in events {
        let mut endpoints: Vec<&str> = subscriptions
            .iter()
            .filter(|(_, t)| t == "*" || t == event.event_type.as_str())
            .map(|(id, _)| id.as_str())
            .collect();
        endpoints.dedup();
        deliveries.extend(endpoints.into_iter().map(|endpoint| (&event.id, endpoint)));
    }
    insert_events_and_deliveries(conn, organization_id, mode, &rows, &deliveries).await
}

/// The creation time of the first of `count` events of an owner about to be written in the
/// caller's transaction; the others follow one millisecond apart. A consumer polling
/// `GET /v1/events?since=<the last created_at it saw>` must never miss an event, so an event
/// may only become visible after every event stamped earlier: the stamp is taken at the end of
/// the transaction (not when the bank answered) and is later than the owner's last event.
/// On PostgreSQL, where transactions commit concurrently, the owner's event writers also take
/// turns from the stamp to their commit (a transaction-scoped advisory lock), so that commit
/// order and stamp order agree; SQLite has one writer, which gives that order already.
async fn stamp_events(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    mode: Mode,
) -> anyhow::Result<Timestamp> {
    if !super::is_sqlite(conn) {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("events:{organization_id}:{}", mode.as_str()))
            .execute(&mut *conn)
            .await?;
    }
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(created_at) FROM events WHERE organization_id = $1 AND mode = $2",
    )
    .bind(organization_id.as_str())
    .bind(mode.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let now = Timestamp::now().millis();
    Ok(Timestamp::from_millis(
        last.map_or(now, |last| now.max(last + 1)),
    ))
}

/// The event rows themselves: `(id, organization, mode, type, link, data, created_at, sample)`.
const EVENT_ROWS: RowsStatement = RowsStatement::insert(
    "INSERT INTO events (id, organization_id, mode, event_type, link_id, data, created_at,
        sample)",
);

/// Pending deliveries, due when their event was created (so an endpoint's deliveries are
/// claimed in the order of their events): `(id, event, endpoint, due)`.
const DELIVERY_ROWS: RowsStatement = RowsStatement::new(
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id,
        next_attempt_at, created_at, state, attempts)
     SELECT column1, column2, column3, column4, column4, 'pending', 0
     FROM (",
    ") AS v",
);

/// A delivery of [`DELIVERY_ROWS`]: its new id, the event and endpoint it delivers, and when
/// it is due.
type DeliveryRow<'a> = (DeliveryId, (&'a EventId, &'a str), Timestamp);

fn delivery_rows<'a>(
    deliveries: &[(&'a EventId, &'a str)],
    due: impl Fn(&EventId) -> Timestamp,
) -> Vec<DeliveryRow<'a>> {
    deliveries
        .iter()
        .map(|&delivery| (DeliveryId::generate(), delivery, due(delivery.0)))
        .collect()
}

fn bind_delivery<'q>(
    row: &mut Tuple<'_, 'q>,
    (id, (event_id, endpoint_id), due): &'q DeliveryRow<'_>,
) {
    row.push_bind(id.as_str())
        .push_bind(event_id.as_str())
        .push_bind(*endpoint_id)
        .push_bind(due.millis());
}

/// Writes the event rows, stamped in their order ([`stamp_events`]), and their deliveries: two
/// statements, which SQLite runs as one script (see [`insert_rows_together`]).
async fn insert_events_and_deliveries(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    mode: Mode,
    events: &[&NewEvent],
    deliveries: &[(&EventId, &str)],
) -> anyhow::Result<()> {
    let first = stamp_events(conn, organization_id, mode).await?;
    let stamped: Vec<(&NewEvent, Timestamp)> = (0_i64..)
        .zip(events)
        .map(|(n, event)| (*event, first.plus_millis(n)))
        .collect();
    let deliveries = delivery_rows(deliveries, |id| {
        stamped
            .iter()
            .find(|(event, _)| &event.id == id)
            .map_or(first, |(_, at)| *at)
    });
    let events = RowWrite::new(EVENT_ROWS, &stamped, |row, (event, at)| {
        row.push_bind(event.id.as_str())
            .push_bind(organization_id.as_str())
            .push_bind(mode.as_str())
            .push_bind(event.event_type.as_str())
            .push_bind(event.link_id.as_ref().map(LinkId::as_str))
            .push_bind(&event.data)
            .push_bind(at.millis())
            .push_bind(super::flag(event.sample));
    });
    let deliveries = RowWrite::new(DELIVERY_ROWS, &deliveries, bind_delivery);
    insert_rows_together(conn, events, deliveries).await
}

/// Queues one delivery of each (event, endpoint), due now; returns their ids in order.
pub(super) async fn queue_deliveries(
    conn: &mut AnyConnection,
    deliveries: &[(&EventId, &str)],
    now: Timestamp,
) -> anyhow::Result<Vec<DeliveryId>> {
    let rows = delivery_rows(deliveries, |_| now);
    insert_rows(conn, DELIVERY_ROWS, &rows, bind_delivery).await?;
    Ok(rows.into_iter().map(|(id, ..)| id).collect())
}

impl Store {
    /// Writes events (and their deliveries) in a transaction of their own: for events that
    /// are the change itself (test events).
    pub async fn publish_events(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        events: &[NewEvent],
    ) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        let subscriptions: Subscriptions =
            sqlx::query_as(subscriptions_sql!("e.organization_id = $1 AND e.mode = $2"))
                .bind(organization_id.as_str())
                .bind(mode.as_str())
                .fetch_all(&mut *tx)
                .await?;
        insert_events(&mut tx, organization_id, mode, events, &subscriptions).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes one event delivered to one endpoint only (test events).
    pub async fn publish_event_to(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        event: &NewEvent,
        endpoint_id: &WebhookEndpointId,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        let deliveries = [(&event.id, endpoint_id.as_str())];
        insert_events_and_deliveries(&mut tx, organization_id, mode, &[event], &deliveries).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One event of the owner.
    pub async fn event(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &EventId,
    ) -> anyhow::Result<Option<Event>> {
        let row = sqlx::query(
            "SELECT * FROM events WHERE id = $1 AND organization_id = $2 AND mode = $3",
        )
        .bind(id.as_str())
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    /// A page of the owner's events, newest first.
    pub async fn list_events(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        filter: &EventFilter,
        page: PageRequest,
    ) -> anyhow::Result<Paged<Event>> {
        // Absent filters become conditions that always hold, so one statement serves all.
        const WHERE: &str = "organization_id = $1 AND mode = $2
            AND ($3 = '' OR event_type = $3) AND ($4 = '' OR link_id = $4)
            AND created_at >= $5 AND created_at < $6 AND ($7 = 1 OR sample = 0)";
        let type_filter = filter.event_type.clone().unwrap_or_default();
        let link_filter = filter
            .link_id
            .as_ref()
            .map(|l| l.to_string())
            .unwrap_or_default();
        let since = filter.since.map_or(i64::MIN, Timestamp::millis);
        let until = filter.until.map_or(i64::MAX, Timestamp::millis);
        let count_sql = format!("SELECT COUNT(*) FROM events WHERE {WHERE}");
        let total: i64 = sqlx::query_scalar(&count_sql)
            .bind(organization_id.as_str())
            .bind(mode.as_str())
            .bind(&type_filter)
            .bind(&link_filter)
            .bind(since)
            .bind(until)
            .bind(super::flag(filter.include_samples))
            .fetch_one(&self.read)
            .await?;
        let list_sql = format!(
            "SELECT * FROM events WHERE {WHERE} ORDER BY created_at DESC, id DESC LIMIT $8 OFFSET $9"
        );
        let rows = sqlx::query(&list_sql)
            .bind(organization_id.as_str())
            .bind(mode.as_str())
            .bind(&type_filter)
            .bind(&link_filter)
            .bind(since)
            .bind(until)
            .bind(super::flag(filter.include_samples))
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(&self.read)
            .await?;
        Paged::from_rows(&rows, total, event_from_row)
    }
}
