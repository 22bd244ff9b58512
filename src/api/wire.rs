//! Wire types shared by several resources: the Fintoc objects (defined in
//! [`crate::domain::wire`], since event payloads show them too) and the error body.

use serde::Serialize;
use utoipa::ToSchema;

pub use crate::domain::wire::{
    AccountOut, BalanceOut, InstitutionOut, LinkOut, MovementOut, RefreshIntentOut, RequiresMfaOut,
    TransferAccountOut,
};

/// Fintoc's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// The error object.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// `invalid_request_error`, `authentication_error`, `link_error`, `institution_error` or
    /// `api_error`.
    #[serde(rename = "type")]
    pub error_type: String,
    /// Machine-readable code.
    pub code: Option<String>,
    /// For people.
    pub message: String,
    /// The offending parameter.
    pub param: Option<String>,
    /// Documentation.
    pub doc_url: Option<String>,
}
