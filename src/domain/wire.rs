//! The Fintoc objects as JSON: how a link, an account, a movement and a refresh intent look on
//! the wire. API answers and event payloads show the same objects, and event payloads are made
//! by the engine inside the transaction that records a refresh (below the API), so the shapes
//! live here, beside the domain types they show; `api::wire` re-exports them. Field order
//! follows Fintoc's documented examples.

use serde::Serialize;
use utoipa::ToSchema;

use super::*;
use crate::crypto::MasterKey;

/// `{id, name, country}` of a bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstitutionOut {
    /// e.g. `cl_banco_sandbox`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Lowercase ISO country.
    pub country: String,
}

impl From<&InstitutionRef> for InstitutionOut {
    fn from(i: &InstitutionRef) -> Self {
        Self {
            id: i.id.clone(),
            name: i.name.clone(),
            country: i.country.clone(),
        }
    }
}

/// Balances in the currency's smallest unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceOut {
    /// Available.
    pub available: i64,
    /// Current.
    pub current: i64,
    /// Credit limit.
    pub limit: i64,
}

/// An Account object.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    /// `acc_…`
    pub id: String,
    /// Always `account`.
    #[schema(example = "account")]
    pub object: &'static str,
    /// Balances.
    pub balance: BalanceOut,
    /// ISO 4217.
    pub currency: String,
    /// Holder tax id.
    pub holder_id: String,
    /// Holder name.
    pub holder_name: String,
    /// Standardized name.
    pub name: String,
    /// Earliest time a new `only_last` refresh is allowed.
    pub next_refresh: Option<String>,
    /// Account number.
    pub number: String,
    /// The bank's commercial name.
    pub official_name: String,
    /// `refreshing`, `refreshed`, `failed` or `interrupted`.
    pub refresh_status: String,
    /// Last successful refresh.
    pub refreshed_at: Option<String>,
    /// The bank stopped listing the account.
    pub removed_from_link: bool,
    /// `checking_account`, `line_of_credit`, …
    #[serde(rename = "type")]
    pub account_type: String,
}

impl From<&Account> for AccountOut {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            object: "account",
            balance: BalanceOut {
                available: a.data.balance.available,
                current: a.data.balance.current,
                limit: a.data.balance.limit,
            },
            currency: a.data.currency.clone(),
            holder_id: a.data.holder_id.clone(),
            holder_name: a.data.holder_name.clone(),
            name: a.data.name.clone(),
            next_refresh: a.next_refresh.map(Timestamp::to_wire),
            number: a.data.number.clone(),
            official_name: a.data.official_name.clone(),
            refresh_status: a.refresh_status.as_str().to_owned(),
            refreshed_at: a.refreshed_at.map(Timestamp::to_wire),
            removed_from_link: a.removed_from_link,
            account_type: a.data.account_type.clone(),
        }
    }
}

/// A Link object.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkOut {
    /// `link_…`
    pub id: String,
    /// Always `link`.
    #[schema(example = "link")]
    pub object: &'static str,
    /// The link's accounts when retrieving or creating one link; `null` in lists and updates.
    pub accounts: Option<Vec<AccountOut>>,
    /// Whether the link is kept refreshed.
    pub active: bool,
    /// Creation time.
    pub created_at: String,
    /// Holder tax id, without dots or hyphens.
    pub holder_id: String,
    /// `individual` or `business`.
    pub holder_type: String,
    /// The bank.
    pub institution: InstitutionOut,
    /// Last successful refresh.
    pub last_time_refreshed: Option<String>,
    /// The secret token: only in the response that creates (or exchanges) the link.
    pub link_token: Option<String>,
    /// `test` or `live`.
    pub mode: String,
    /// `refreshing`, `refreshed`, `failed` or `interrupted`.
    pub refresh_status: String,
    /// `active`, `login_required` or `inactive`.
    pub status: String,
    /// Bank login.
    pub username: String,
}

impl LinkOut {
    /// The wire form; `accounts` and `link_token` only where the endpoint shows them.
    pub fn new(link: &Link, accounts: Option<&[Account]>, token: Option<&LinkToken>) -> Self {
        Self {
            id: link.id.to_string(),
            object: "link",
            accounts: accounts.map(|a| a.iter().map(AccountOut::from).collect()),
            active: link.active,
            created_at: link.created_at.to_wire(),
            holder_id: link.holder_id.clone(),
            holder_type: link.holder_type.as_str().to_owned(),
            institution: (&link.institution).into(),
            last_time_refreshed: link.last_time_refreshed.map(Timestamp::to_wire),
            link_token: token.map(|t| t.expose().to_owned()),
            mode: link.mode.as_str().to_owned(),
            refresh_status: link.refresh_status.as_str().to_owned(),
            status: link.status().to_owned(),
            username: link.username.clone(),
        }
    }
}

/// The other side of a transfer. Borrows from the stored movement, as [`MovementOut`] does.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferAccountOut<'a> {
    /// Tax id.
    pub holder_id: Option<&'a str>,
    /// Name.
    pub holder_name: Option<&'a str>,
    /// Account number.
    pub number: Option<&'a str>,
    /// Bank.
    pub institution: Option<InstitutionOut>,
}

impl<'a> From<&'a TransferAccount> for TransferAccountOut<'a> {
    fn from(t: &'a TransferAccount) -> Self {
        Self {
            holder_id: t.holder_id.as_deref(),
            holder_name: t.holder_name.as_deref(),
            number: t.number.as_deref(),
            institution: t.institution.as_ref().map(InstitutionOut::from),
        }
    }
}

/// A Movement object. It borrows the stored movement's text rather than copying it: a page
/// of 300 is serialised straight from what the store read (see BENCHMARKS.md, S4).
#[derive(Debug, Serialize, ToSchema)]
pub struct MovementOut<'a> {
    /// `mov_…`
    pub id: &'a str,
    /// Always `movement`.
    #[schema(example = "movement")]
    pub object: &'static str,
    /// Signed amount in the smallest unit: positive in, negative out.
    pub amount: i64,
    /// Transfer comment.
    pub comment: Option<&'a str>,
    /// ISO 4217.
    pub currency: &'a str,
    /// Bank description.
    pub description: &'a str,
    /// True for checks not yet confirmed.
    pub pending: bool,
    /// Accounting date (midnight UTC).
    pub post_date: String,
    /// Recipient of an outgoing transfer.
    pub recipient_account: Option<TransferAccountOut<'a>>,
    /// Bank reference.
    pub reference_id: Option<&'a str>,
    /// Sender of an incoming transfer.
    pub sender_account: Option<TransferAccountOut<'a>>,
    /// `confirmed`, `pending`, `reversed` or `duplicated`.
    pub status: &'static str,
    /// Real date and time, when known.
    pub transaction_date: Option<String>,
    /// `transfer`, `check` or `other`.
    #[serde(rename = "type")]
    pub movement_type: &'static str,
}

impl<'a> From<&'a Movement> for MovementOut<'a> {
    fn from(m: &'a Movement) -> Self {
        let d = &m.data;
        Self {
            id: m.id.as_str(),
            object: "movement",
            amount: d.amount,
            comment: d.comment.as_deref(),
            currency: d.currency.as_str(),
            description: &d.description,
            pending: d.pending,
            post_date: Timestamp::start_of(d.post_date).to_wire(),
            recipient_account: d.recipient_account.as_deref().map(Into::into),
            reference_id: d.reference_id.as_deref(),
            sender_account: d.sender_account.as_deref().map(Into::into),
            status: d.status.as_str(),
            transaction_date: d.transaction_date.map(Timestamp::to_wire),
            movement_type: d.movement_type.as_str(),
        }
    }
}

/// `requires_mfa` of an intent.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequiresMfaOut {
    /// Give it to the widget (`Fintoc.create({widgetToken})`) with your public key.
    pub widget_token: String,
}

/// A Refresh Intent object. Fields after `created_at` are Refresco's additions.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshIntentOut {
    /// `ri_…`
    pub id: String,
    /// Always `refresh_intent`.
    #[schema(example = "refresh_intent")]
    pub object: &'static str,
    /// Always `link` for intents created through the API.
    pub refreshed_object: &'static str,
    /// The refreshed link's id.
    pub refreshed_object_id: String,
    /// `created`, `succeeded`, `failed` or `rejected`.
    pub status: String,
    /// `only_last` or `historical`.
    #[serde(rename = "type")]
    pub refresh_type: String,
    /// Present while the bank waits for a second factor.
    pub requires_mfa: Option<RequiresMfaOut>,
    /// Movements this refresh created, across accounts.
    pub new_movements: i64,
    /// `retryable_error`, `support_required_error`, `invalid_credentials_error`,
    /// `credentials_locked_error`, or null.
    pub public_error: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// When a worker first took the refresh.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Why it failed, in more detail than `public_error` (see docs/refresh-intents.md).
    pub failure_reason: Option<String>,
    /// The pending second factor: `sms`, `device` or `app`.
    pub mfa_method: Option<String>,
    /// When the pending second-factor challenge expires.
    pub mfa_expires_at: Option<String>,
}

impl RefreshIntentOut {
    /// The wire form; `requires_mfa` shows the widget token while the second factor is pending.
    pub fn new(keys: &MasterKey, intent: &RefreshIntent) -> Self {
        let requires_mfa = intent.mfa_pending.and_then(|_| {
            let sealed = intent.widget_token_sealed.as_ref()?;
            let token = keys.unseal(intent.id.as_str(), sealed).ok()?;
            Some(RequiresMfaOut {
                widget_token: String::from_utf8(token.to_vec()).ok()?,
            })
        });
        Self {
            id: intent.id.to_string(),
            object: "refresh_intent",
            refreshed_object: "link",
            refreshed_object_id: intent.link_id.to_string(),
            status: intent.status.as_str().to_owned(),
            refresh_type: intent.refresh_type.as_str().to_owned(),
            requires_mfa,
            new_movements: intent.new_movements,
            public_error: intent.public_error.map(|e| e.as_str().to_owned()),
            created_at: intent.created_at.to_wire(),
            started_at: intent.started_at.map(Timestamp::to_wire),
            finished_at: intent.finished_at.map(Timestamp::to_wire),
            failure_reason: intent.failure_reason.clone(),
            mfa_method: intent.mfa_pending.map(|m| m.as_str().to_owned()),
            mfa_expires_at: intent
                .mfa_pending
                .and(intent.mfa_expires_at)
                .map(Timestamp::to_wire),
        }
    }
}
