//! Bank connectors: the interface the refresh engine drives, and the built-in sandbox banks.
//!
//! A [`Connector`] speaks to one institution. The engine calls it in this order:
//! [`Connector::login`] (maybe followed by [`Connector::answer_mfa`] once the holder gave the
//! second factor), then [`Connector::list_accounts`], then [`Connector::fetch_movements`] once
//! per account. Every call is independent of the previous one except through the
//! [`BankSession`] it returns, which is plain JSON: a refresh waiting for a second factor can be
//! parked in the database and resumed later by another process.
//!
//! Connectors report the bank's view only (`bank_id`s, amounts, dates). Turning that into API
//! objects (`acc_…`/`mov_…` ids, new/modified/removed diffs, events) is the engine's job.
//!
//! The sandbox institutions live in [`sandbox`]; [`Registry`] finds a connector by
//! institution id. `docs/sandbox.md` lists the sandbox's magic credentials.

mod auth;
mod error;
mod model;
pub mod protocol;
mod registry;
pub mod rfc;
pub mod rut;
pub mod sandbox;

use std::borrow::Cow;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use auth::{
    BankSession, Credentials, HolderType, LoginOutcome, MfaAnswer, MfaChallenge, MfaKind,
};
pub use error::{ConnectorError, ErrorClass};
pub use model::{
    BankAccount, BankMovement, BankMovementStatus, BankMovementType, DateWindow, FetchContext,
    TransferAccount,
};
pub use registry::{DuplicateInstitution, Registry, Source};
pub use sandbox::SandboxConfig;

/// A bank as the API shows it (`institution` of a link, and the institution picker).
///
/// Built-in banks borrow their strings from statics; banks a connector's manifest announces
/// own theirs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Institution {
    /// Fintoc-style id, `<country>_<slug>`, e.g. `cl_banco_sandbox`.
    #[schema(value_type = String)]
    pub id: Cow<'static, str>,
    /// Display name, e.g. `Banco Sandbox Chile`.
    #[schema(value_type = String)]
    pub name: Cow<'static, str>,
    /// ISO 3166-1 alpha-2 country code in lower case, e.g. `cl` or `mx`.
    #[schema(value_type = String)]
    pub country: Cow<'static, str>,
    /// ISO 4217 currency of the institution's accounts, e.g. `CLP` or `MXN`.
    #[schema(value_type = String)]
    pub currency: Cow<'static, str>,
}

/// One institution's implementation of login, second factor and data download.
///
/// Implementations must be stateless between calls (all state travels in [`BankSession`]) so
/// any worker can continue a refresh another one started.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The institution this connector talks to.
    fn institution(&self) -> &Institution;

    /// Logs in with the holder's credentials. The bank may ask for a second factor, in which
    /// case the engine parks the [`MfaChallenge`] until the holder answers it.
    async fn login(&self, creds: &Credentials) -> Result<LoginOutcome, ConnectorError>;

    /// Completes a login with the holder's answer to a challenge returned by [`Self::login`].
    async fn answer_mfa(
        &self,
        challenge: &MfaChallenge,
        answer: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError>;

    /// Lists the holder's accounts as the bank shows them at `ctx.today`.
    ///
    /// A connector whose bank renews its session as it is used (rotating tokens, new cookies)
    /// replaces `session`; the engine uses the replacement for the calls that follow.
    async fn list_accounts(
        &self,
        session: &mut BankSession,
        ctx: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError>;

    /// Movements of one account whose `post_date` falls in `window`, newest first.
    ///
    /// An error for one account must not affect the others (the engine records per-account
    /// results). `session` may be replaced, as in [`Self::list_accounts`].
    async fn fetch_movements(
        &self,
        session: &mut BankSession,
        account: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError>;
}
