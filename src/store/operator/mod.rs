//! Reads for operators: the job queue and webhook health that `/metrics` reports at each
//! scrape. Nothing here writes, and no secret column (hashes, sealed values) is selected.

mod queue;

pub use queue::{JobCount, PoolReading, QueueReading};
