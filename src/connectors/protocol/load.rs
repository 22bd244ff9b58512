//! Loading the configured connector services into a [`Registry`]: each manifest is read at
//! start; one that cannot be read does not stop the server, it is retried in the background
//! and counted as pending meanwhile (see [`Registry::has_pending`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use super::client::ConnectorService;
use crate::config::ConnectorTarget;
use crate::connectors::{Registry, Source};

/// How long start-up waits for one manifest before going on without it.
const START_WAIT: Duration = Duration::from_secs(5);
/// The first wait between two tries of a pending manifest, doubling up to [`MAX_RETRY_WAIT`].
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(500);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// Connector services whose manifest is still to be read.
#[derive(Default)]
pub struct PendingConnectors(Vec<Arc<ConnectorService>>);

impl PendingConnectors {
    /// Whether every configured connector is loaded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads every target's manifest (at once) and registers its institutions. Two connectors
/// serving one institution id is an error; a manifest that cannot be read is logged and left
/// pending.
pub async fn load(
    registry: &Registry,
    targets: &[ConnectorTarget],
) -> anyhow::Result<PendingConnectors> {
    let services = targets
        .iter()
        .map(|t| ConnectorService::new(&t.url, t.token.clone(), t.timeout).map(Arc::new))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let manifests =
        join_all(services.iter().map(|service| async move {
            tokio::time::timeout(START_WAIT, service.manifest()).await
        }))
        .await;
    let mut pending = PendingConnectors::default();
    for (service, manifest) in services.into_iter().zip(manifests) {
        match manifest {
            Ok(Ok(manifest)) => {
                registry
                    .register_all(service.connectors(&manifest), Source::Connector)
                    .map_err(|e| anyhow::anyhow!("connector {}: {e}", service.url()))?;
                tracing::info!(
                    url = %service.url(),
                    institutions = manifest.institutions.len(),
                    "connector loaded"
                );
            }
            Ok(Err(e)) => left_pending(registry, &mut pending, service, &e.to_string()),
            Err(_) => left_pending(registry, &mut pending, service, "no answer in time"),
        }
    }
    Ok(pending)
}

fn left_pending(
    registry: &Registry,
    pending: &mut PendingConnectors,
    service: Arc<ConnectorService>,
    why: &str,
) {
    tracing::error!(
        url = %service.url(),
        error = why,
        "connector manifest could not be read; its banks are unavailable until it answers \
         (retrying in the background)"
    );
    registry.add_pending();
    pending.0.push(service);
}

/// Retries each pending manifest until it is read or `shutdown` fires.
pub async fn retry(registry: Registry, pending: PendingConnectors, shutdown: CancellationToken) {
    let tries = pending.0.into_iter().map(|service| {
        let (registry, shutdown) = (registry.clone(), shutdown.clone());
        async move {
            let mut wait = FIRST_RETRY_WAIT;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return,
                }
                match service.manifest().await {
                    Ok(manifest) => {
                        let registered =
                            registry.register_all(service.connectors(&manifest), Source::Connector);
                        registry.remove_pending();
                        match registered {
                            Ok(()) => tracing::info!(url = %service.url(), "connector loaded"),
                            Err(e) => tracing::error!(
                                url = %service.url(),
                                error = %e,
                                "connector refused: it serves an institution another serves"
                            ),
                        }
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(url = %service.url(), error = %e, "connector still unavailable");
                        wait = (wait * 2).min(MAX_RETRY_WAIT);
                    }
                }
            }
        }
    });
    join_all(tries).await;
}
