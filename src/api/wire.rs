//! Wire types shared by several resources (a link embeds its accounts; movements embed
//! institutions). Field order follows Fintoc's documented examples.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::*;

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
