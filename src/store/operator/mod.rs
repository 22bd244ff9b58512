//! Reads for operators: the job queue and webhook health that `/metrics` reports at each
//! scrape, and the cross-organization views of `/dashboard`. Nothing here writes, and no
//! secret column (hashes, sealed values) is selected.

mod links;
mod overview;
mod queue;
mod webhooks;

pub use links::{OpsAccountResult, OpsIntent, OpsLink};
pub use overview::{InstitutionHealth, MinuteCount, OpsOrganization};
pub use queue::{JobCount, PoolReading, QueueReading};
pub use webhooks::{OpsAttempt, OpsDelivery, OpsEndpoint, OpsEvent};
