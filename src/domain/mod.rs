//! Domain types: pure code with no I/O. Values here cannot be invalid once built (typed,
//! prefixed ids; enums for every closed set), so the API and store layers convert at their edges.

pub mod events;
pub mod ids;
pub mod ingest;
pub mod link_intents;
pub mod model;
pub mod recording;
pub mod refresh;
pub mod text;
pub mod time;
pub mod wire;

pub use events::*;
pub use ids::*;
pub use link_intents::*;
pub use model::*;
pub use recording::*;
pub use refresh::*;
pub use time::Timestamp;
