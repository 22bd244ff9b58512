//! Webhook endpoints: creation, subscriptions, updates, deletion.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::{get_flag, get_time};
use super::{flag, PageRequest, Paged, Store};
use crate::domain::*;

/// An endpoint to create.
#[derive(Debug)]
pub struct NewEndpoint {
    /// Its id.
    pub id: WebhookEndpointId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode.
    pub mode: Mode,
    /// Target URL (validated).
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// Subscriptions.
    pub enabled_events: EnabledEvents,
    /// The `whsec_…` secret, sealed under the master key.
    pub sealed_secret: Vec<u8>,
}

/// Changes to an endpoint (`None`: unchanged).
#[derive(Debug, Default)]
pub struct EndpointPatch {
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New subscriptions.
    pub enabled_events: Option<EnabledEvents>,
    /// Disable (`true`) or re-enable (`false`).
    pub disabled: Option<bool>,
}

fn endpoint_from_row(row: &AnyRow, events: Vec<String>) -> anyhow::Result<WebhookEndpoint> {
    let mode: String = row.try_get("mode")?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::from_trusted(row.try_get("id")?),
        organization_id: OrganizationId::from_trusted(row.try_get("organization_id")?),
        mode: Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("bad mode"))?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        enabled_events: EnabledEvents::parse(&events).unwrap_or(EnabledEvents::Only(Vec::new())),
        disabled: get_flag(row, "disabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        created_at: get_time(row, "created_at")?.unwrap_or(Timestamp::from_millis(0)),
    })
}

impl Store {
    async fn endpoint_events(&self, id: &str) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT event_type FROM webhook_endpoint_events WHERE endpoint_id = $1 ORDER BY event_type",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn write_subscriptions(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: &WebhookEndpointId,
        events: &EnabledEvents,
    ) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM webhook_endpoint_events WHERE endpoint_id = $1")
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
        for name in events.names() {
            sqlx::query(
                "INSERT INTO webhook_endpoint_events (endpoint_id, event_type) VALUES ($1, $2)",
            )
            .bind(id.as_str())
            .bind(name)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query("UPDATE webhook_endpoints SET enabled_events = $1 WHERE id = $2")
            .bind(serde_json::to_string(&events.names())?)
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Creates an endpoint.
    pub async fn create_endpoint(&self, new: &NewEndpoint) -> anyhow::Result<WebhookEndpoint> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, organization_id, mode, url, description,
                 enabled_events, secret, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, '[]', $6, 0, $7)",
        )
        .bind(new.id.as_str())
        .bind(new.organization_id.as_str())
        .bind(new.mode.as_str())
        .bind(&new.url)
        .bind(new.description.as_deref())
        .bind(new.sealed_secret.clone())
        .bind(Timestamp::now().millis())
        .execute(&mut *tx)
        .await?;
        Self::write_subscriptions(&mut tx, &new.id, &new.enabled_events).await?;
        tx.commit().await?;
        self.endpoint(&new.organization_id, new.mode, &new.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("endpoint vanished"))
    }

    /// One live endpoint of the owner.
    pub async fn endpoint(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &WebhookEndpointId,
    ) -> anyhow::Result<Option<WebhookEndpoint>> {
        let row = sqlx::query(
            "SELECT * FROM webhook_endpoints
             WHERE id = $1 AND organization_id = $2 AND mode = $3 AND deleted_at IS NULL",
        )
        .bind(id.as_str())
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let events = self.endpoint_events(id.as_str()).await?;
        endpoint_from_row(&row, events).map(Some)
    }

    /// The owner's live endpoints, newest first.
    pub async fn list_endpoints(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        page: PageRequest,
    ) -> anyhow::Result<Paged<WebhookEndpoint>> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_endpoints
             WHERE organization_id = $1 AND mode = $2 AND deleted_at IS NULL",
        )
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .fetch_one(&self.read)
        .await?;
        let rows = sqlx::query(
            "SELECT * FROM webhook_endpoints
             WHERE organization_id = $1 AND mode = $2 AND deleted_at IS NULL
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
        )
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&self.read)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            items.push(endpoint_from_row(row, self.endpoint_events(&id).await?)?);
        }
        Ok(Paged {
            items,
            total: super::to_total(total),
        })
    }

    /// Applies a patch; `None` when there is no such live endpoint.
    pub async fn update_endpoint(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &WebhookEndpointId,
        patch: &EndpointPatch,
    ) -> anyhow::Result<Option<WebhookEndpoint>> {
        let mut tx = self.begin().await?;
        let exists: Option<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_endpoints
             WHERE id = $1 AND organization_id = $2 AND mode = $3 AND deleted_at IS NULL",
        )
        .bind(id.as_str())
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_none() {
            return Ok(None);
        }
        if let Some(url) = &patch.url {
            sqlx::query("UPDATE webhook_endpoints SET url = $1 WHERE id = $2")
                .bind(url)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(description) = &patch.description {
            sqlx::query("UPDATE webhook_endpoints SET description = $1 WHERE id = $2")
                .bind(description)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(events) = &patch.enabled_events {
            Self::write_subscriptions(&mut tx, id, events).await?;
        }
        if let Some(disabled) = patch.disabled {
            // Re-enabling also forgets the failure streak, so it is not disabled again at once.
            sqlx::query(
                "UPDATE webhook_endpoints SET disabled = $1,
                     disabled_reason = CASE WHEN $1 = 1 THEN 'client' ELSE NULL END,
                     failing_since = NULL
                 WHERE id = $2",
            )
            .bind(flag(disabled))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.endpoint(organization_id, mode, id).await
    }

    /// Deletes an endpoint and cancels its pending deliveries; false when there was none.
    pub async fn delete_endpoint(
        &self,
        organization_id: &OrganizationId,
        mode: Mode,
        id: &WebhookEndpointId,
    ) -> anyhow::Result<bool> {
        let mut tx = self.begin().await?;
        let now = Timestamp::now().millis();
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET deleted_at = $1
             WHERE id = $2 AND organization_id = $3 AND mode = $4 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(organization_id.as_str())
        .bind(mode.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'canceled', finished_at = $1
             WHERE endpoint_id = $2 AND state = 'pending'",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
