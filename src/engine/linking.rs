//! Creating a link: log in to the bank, list its accounts, and store them with sealed
//! credentials, a hashed token and the link's first `historical` refresh intent, which fetches
//! the movements in the background (with the login's session, so the bank asks no second
//! factor again). `POST /v1/links` and `refresco links create` do it in one call
//! ([`create_link`]); the widget logs in first and may answer a second factor in a later
//! request ([`super::link_intents`]), then shares [`prepare_link`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::convert::{account_data, bank_holder_type};
use super::politeness::{self, BankHealth, Closed};
use crate::config::{Config, Secret};
use crate::connectors::{
    BankSession, Connector, ConnectorError, Credentials, FetchContext, LoginOutcome, MfaAnswer,
    MfaKind, Registry,
};
use crate::crypto::MasterKey;
use crate::domain::*;
use crate::store::{FirstHistory, NewLink, Store};

/// Why a link was not created or reconnected.
#[derive(Debug, thiserror::Error)]
pub enum LinkingError {
    /// No connector serves the institution id.
    #[error("unknown institution")]
    UnknownInstitution,
    /// The bank asks for a second factor at login and none was given.
    #[error("the bank asks for a second factor ({})", .0.as_str())]
    MfaRequired(MfaKind),
    /// The bank refused or failed the login or the fetch.
    #[error(transparent)]
    Bank(ConnectorError),
    /// The link to reconnect is gone (deleted meanwhile, or of another organization or mode).
    #[error("the link is gone")]
    LinkNotFound,
    /// The institution takes no login now: its circuit breaker is open, or every session
    /// slot stayed taken (see [`super::politeness::at_the_bank`]).
    #[error("the institution takes no login now")]
    InstitutionClosed(Closed),
    /// Our failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What link creation needs.
pub struct Linker<'a> {
    /// Where the link goes.
    pub store: &'a Store,
    /// Seals credentials, hashes the token.
    pub keys: &'a MasterKey,
    /// Finds the bank.
    pub registry: &'a Registry,
    /// The politeness settings of logins, and how long the first history may take
    /// (`refresh_timeout_secs`).
    pub config: &'a Config,
}

/// A request to connect a bank.
#[derive(Debug)]
pub struct NewLinkRequest {
    /// Institution id.
    pub institution_id: String,
    /// Bank login.
    pub username: String,
    /// Bank password.
    pub password: Secret,
    /// Individual or business.
    pub holder_type: HolderType,
    /// A second factor given up front, for banks that ask for one at login.
    pub mfa_code: Option<String>,
}

/// A created link; the token exists only here.
#[derive(Debug)]
pub struct CreatedLink {
    /// The link.
    pub link: Link,
    /// Its accounts.
    pub accounts: Vec<Account>,
    /// Its token, to show once.
    pub token: LinkToken,
    /// Its first history, the `historical` refresh intent that fetches its movements.
    pub first_history: Option<RefreshIntentId>,
}

/// The credentials as sealed at rest (JSON inside the AEAD).
#[derive(Serialize, Deserialize)]
pub struct SealedCredentials {
    /// Bank login.
    pub username: String,
    /// Bank password.
    pub password: String,
}

impl NewLinkRequest {
    /// What the connector logs in with.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            username: self.username.clone(),
            password: self.password.expose().to_owned(),
            holder_type: bank_holder_type(self.holder_type),
        }
    }
}

/// The connector of `institution_id`, if it is offered in `mode` (see
/// [`Registry::with_sandbox_in_live`]).
pub fn connector_for(
    registry: &Registry,
    institution_id: &str,
    mode: Mode,
) -> Result<Arc<dyn Connector>, LinkingError> {
    registry
        .get_offered(institution_id, mode == Mode::Live)
        .ok_or(LinkingError::UnknownInstitution)
}

/// Connects a bank for `principal` in one call (`POST /v1/links`, `refresco links create`):
/// logs in, answering a second factor with `mfa_code`, then fetches and stores the link. Links
/// are created in the principal's organization and mode.
#[tracing::instrument(skip_all, fields(institution = %request.institution_id))]
pub async fn create_link(
    linker: &Linker<'_>,
    principal: &Principal,
    request: NewLinkRequest,
) -> Result<CreatedLink, LinkingError> {
    let connector = connector_for(linker.registry, &request.institution_id, principal.mode)?;
    let (new, token) = at_the_bank(linker, &request.institution_id, async {
        let (session, login_mfa) = log_in(
            connector.as_ref(),
            &request.credentials(),
            request.mfa_code.as_deref(),
        )
        .await?;
        prepare_link(
            linker,
            principal,
            connector.as_ref(),
            &request,
            session,
            login_mfa,
        )
        .await
    })
    .await?;
    let (link, accounts) = linker.store.create_link(&new).await?;
    tracing::info!(link_id = %link.id, accounts = accounts.len(), "link created");
    let first_history = new.first_history.map(|h| h.intent_id);
    Ok(CreatedLink {
        link,
        accounts,
        token,
        first_history,
    })
}

/// Everything a new link is stored with, listed through a logged-in `session`: the accounts,
/// the sealed credentials, the first history's intent (holding the session, sealed), and a
/// fresh token (returned beside, to show once). The API stores it at once; the widget stores
/// it together with its link intent.
pub async fn prepare_link(
    linker: &Linker<'_>,
    principal: &Principal,
    connector: &dyn Connector,
    request: &NewLinkRequest,
    mut session: BankSession,
    login_mfa: Option<MfaMethod>,
) -> Result<(NewLink, LinkToken), LinkingError> {
    let institution = connector.institution();
    // The context the first history fetches in too: refresh number 0, the link's creation.
    let ctx = FetchContext {
        today: chrono::Utc::now().date_naive(),
        refresh_number: 0,
    };
    let bank_accounts = connector
        .list_accounts(&mut session, &ctx)
        .await
        .map_err(LinkingError::Bank)?;
    let holder_id = bank_accounts
        .first()
        .map(|a| a.holder_id.clone())
        .unwrap_or_else(|| normalize_holder_id(&request.username));

    let id = LinkId::generate();
    let token = LinkToken::generate(&id);
    let history_id = RefreshIntentId::generate();
    let fetched_at = Timestamp::now();
    let timeout = super::secs_to_millis(linker.config.refresh_timeout_secs);
    let first_history = FirstHistory {
        sealed_session: linker.keys.seal(
            history_id.as_str(),
            &serde_json::to_vec(&session).map_err(anyhow::Error::from)?,
        ),
        intent_id: history_id,
        deadline: fetched_at.plus_millis(timeout),
    };
    let sealed = seal_credentials(linker.keys, &id, &request.username, &request.password)?;
    let new = NewLink {
        id: id.clone(),
        organization_id: principal.organization_id.clone(),
        mode: principal.mode,
        token_hash: linker.keys.hash_token(token.expose()),
        institution: InstitutionRef {
            id: institution.id.to_string(),
            name: institution.name.to_string(),
            country: institution.country.to_string(),
        },
        holder_type: request.holder_type,
        holder_id,
        username: crate::domain::text::normalize_username(&request.username),
        sealed_credentials: sealed,
        accounts: bank_accounts.iter().map(account_data).collect(),
        fetched_at,
        login_mfa,
        first_history: Some(first_history),
    };
    Ok((new, token))
}

/// Runs `work`, a login with the bank calls that follow it, under a session slot of
/// `institution` (see [`politeness::at_the_bank`]).
pub async fn at_the_bank<T>(
    linker: &Linker<'_>,
    institution: &str,
    work: impl std::future::Future<Output = Result<T, LinkingError>>,
) -> Result<T, LinkingError> {
    politeness::at_the_bank(
        linker.store,
        linker.config,
        institution,
        work,
        |result| match result {
            Err(LinkingError::Bank(ConnectorError::Unavailable)) => BankHealth::Unavailable,
            Ok(_) | Err(LinkingError::Bank(_) | LinkingError::MfaRequired(_)) => {
                BankHealth::Answered
            }
            Err(_) => BankHealth::Unknown,
        },
        || LinkingError::Bank(ConnectorError::Unavailable),
    )
    .await?
    .map_err(LinkingError::InstitutionClosed)?
}

/// Logs in, answering the bank's second factor with `mfa_code` when it asks for one. Returns
/// the session and the second factor the bank asked for, if any.
async fn log_in(
    connector: &dyn Connector,
    credentials: &Credentials,
    mfa_code: Option<&str>,
) -> Result<(BankSession, Option<MfaMethod>), LinkingError> {
    match connector
        .login(credentials)
        .await
        .map_err(LinkingError::Bank)?
    {
        LoginOutcome::LoggedIn(session) => Ok((session, None)),
        LoginOutcome::MfaRequired(challenge) => {
            let Some(code) = mfa_code else {
                return Err(LinkingError::MfaRequired(challenge.kind));
            };
            // For approval in the bank's app there is no code: any mfa_code means "approved".
            let answer = if challenge.kind == MfaKind::App {
                MfaAnswer::Approved
            } else {
                MfaAnswer::Code(code.to_owned())
            };
            let session = connector
                .answer_mfa(&challenge, &answer)
                .await
                .map_err(LinkingError::Bank)?;
            Ok((session, Some(super::convert::mfa_method(challenge.kind))))
        }
    }
}

/// New credentials for an existing link, sent by the client's server (the widget's reconnect
/// flow is the other way: [`super::widget_reconnect`]).
#[derive(Debug)]
pub struct Reconnection {
    /// Bank login; the link's when absent.
    pub username: Option<String>,
    /// The new password.
    pub password: Secret,
    /// A second factor, for banks that ask for one at login.
    pub mfa_code: Option<String>,
}

/// Reconnects a link: logs in with the new credentials and, if the bank accepts them, stores
/// them sealed and marks the link's credentials active again.
#[tracing::instrument(skip_all, fields(link_id = %link.id))]
pub async fn reconnect(
    linker: &Linker<'_>,
    link: &Link,
    request: Reconnection,
) -> Result<Link, LinkingError> {
    let Some(connector) = linker.registry.get(&link.institution.id) else {
        // As in a refresh: a configured connector not loaded yet may serve it, and the bank
        // is then only unavailable for now.
        // One no configured connector serves any more needs an operator, as a refresh does.
        if linker.registry.has_pending() {
            return Err(LinkingError::Bank(ConnectorError::Unavailable));
        }
        return Err(LinkingError::Bank(ConnectorError::SupportRequired));
    };
    let username = request.username.unwrap_or_else(|| link.username.clone());
    let credentials = Credentials {
        username: username.clone(),
        password: request.password.expose().to_owned(),
        holder_type: bank_holder_type(link.holder_type),
    };
    let (_, login_mfa) = at_the_bank(
        linker,
        &link.institution.id,
        log_in(
            connector.as_ref(),
            &credentials,
            request.mfa_code.as_deref(),
        ),
    )
    .await?;
    let sealed = seal_credentials(linker.keys, &link.id, &username, &request.password)?;
    linker
        .store
        .update_link_credentials(&link.id, &sealed, login_mfa)
        .await?;
    linker
        .store
        .link_by_id(&link.organization_id, link.mode, &link.id)
        .await?
        .ok_or(LinkingError::LinkNotFound)
}

/// A link's bank login and password as stored: sealed under the master key, bound to the
/// link's id.
pub fn seal_credentials(
    keys: &MasterKey,
    link_id: &LinkId,
    username: &str,
    password: &Secret,
) -> Result<Vec<u8>, LinkingError> {
    let plain = serde_json::to_vec(&SealedCredentials {
        username: username.to_owned(),
        password: password.expose().to_owned(),
    })
    .map_err(anyhow::Error::from)?;
    Ok(keys.seal(link_id.as_str(), &plain))
}

/// Tax ids are shown without dots or hyphens.
fn normalize_holder_id(username: &str) -> String {
    username
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_uppercase()
}
