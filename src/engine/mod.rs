//! Work that talks to banks: creating links now; the refresh engine (jobs, leases, MFA parking)
//! builds on the same conversions.

pub mod convert;
pub mod linking;
