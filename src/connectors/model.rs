//! The bank's data as a connector reports it, and what the engine tells the connector.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Dates whose movements a fetch asks for, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct DateWindow {
    /// First `post_date` wanted.
    pub since: NaiveDate,
    /// Last `post_date` wanted (inclusive, unlike the API's `until` query parameter).
    pub until: NaiveDate,
}

impl DateWindow {
    /// The `days` days ending at `today` (both included); `days == 0` gives an empty window.
    pub fn last_days(today: NaiveDate, days: u32) -> Self {
        let since = today
            .checked_sub_days(Days::new(u64::from(days)))
            .and_then(|d| d.checked_add_days(Days::new(1)))
            .unwrap_or(NaiveDate::MIN);
        DateWindow {
            since,
            until: today,
        }
    }

    /// Whether `date` is inside the window.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.since <= date && date <= self.until
    }
}

/// What the engine knows about the refresh, so sandbox banks can behave differently over time.
///
/// Real connectors may ignore it. The engine must persist it with the job, so a retried or
/// resumed job sees the same context and the sandbox returns the same data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct FetchContext {
    /// The bank's "today": nothing is posted after it.
    pub today: NaiveDate,
    /// How many fetches this link had before this one: 0 is the fetch made when the link is
    /// created, 1 the first refresh after it, and so on.
    pub refresh_number: u32,
}

/// An account as the bank shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct BankAccount {
    /// The bank's stable identity of the account (same account, same id, every fetch).
    pub bank_id: String,
    /// Standardized name, e.g. `Cuenta Corriente`.
    pub name: String,
    /// The bank's commercial name, e.g. `Cuenta Corriente Moneda Local`.
    pub official_name: String,
    /// Account number without hyphens or leading zeros.
    pub number: String,
    /// Holder's tax id without dots or hyphen (RUT or RFC).
    pub holder_id: String,
    /// Holder's name as the bank writes it.
    pub holder_name: String,
    /// `checking_account`, `line_of_credit`, `savings_account` or `sight_account`.
    pub account_type: String,
    /// ISO 4217 code, e.g. `CLP`.
    pub currency: String,
    /// Money the holder can use now, in the currency's smallest unit.
    pub balance_available: i64,
    /// Accounting balance, in the currency's smallest unit.
    pub balance_current: i64,
    /// Available balance plus any credit the account can draw, in the smallest unit.
    pub balance_limit: i64,
}

/// The other side of a transfer, as far as the bank tells (any field may be missing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct TransferAccount {
    /// Tax id without dots or hyphen.
    pub holder_id: Option<String>,
    /// Name of the account's holder.
    pub holder_name: Option<String>,
    /// Account number.
    pub number: Option<String>,
    /// Fintoc institution id, e.g. `cl_banco_de_chile`.
    pub institution_id: Option<String>,
    /// Institution name, e.g. `Banco de Chile`.
    pub institution_name: Option<String>,
    /// Institution country, `cl` or `mx`.
    pub institution_country: Option<String>,
}

/// What kind of movement the bank shows, in Fintoc's terms.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BankMovementType {
    /// A transfer to or from another account.
    Transfer,
    /// A check.
    Check,
    /// Anything else.
    Other,
}

/// Whether the bank has booked a movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BankMovementStatus {
    /// Booked.
    Confirmed,
    /// Not yet booked (a check that has not cleared).
    Pending,
    /// Undone.
    Reversed,
}

/// One movement as the bank shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct BankMovement {
    /// The bank's stable identity of the movement: the same movement keeps its id across
    /// fetches even when the bank modifies it, which is how the engine tells modified from new.
    pub bank_id: String,
    /// Signed amount in the currency's smallest unit: positive comes in, negative goes out.
    pub amount: i64,
    /// ISO 4217 code, e.g. `CLP`.
    pub currency: String,
    /// The bank's description, e.g. `Traspaso de: Camila Rojas`.
    pub description: String,
    /// Accounting date.
    pub post_date: NaiveDate,
    /// When it really happened, on or before `post_date`, when the bank says.
    pub transaction_date: Option<DateTime<Utc>>,
    /// Transfer, check or other.
    pub movement_type: BankMovementType,
    /// Confirmed, pending or reversed.
    pub status: BankMovementStatus,
    /// True only for checks not yet confirmed.
    pub pending: bool,
    /// Operation number, or document number for checks.
    pub reference_id: Option<String>,
    /// Comment the sender wrote on a transfer.
    pub comment: Option<String>,
    /// Who sent an incoming transfer.
    pub sender_account: Option<TransferAccount>,
    /// Who received an outgoing transfer.
    pub recipient_account: Option<TransferAccount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_days_includes_today_and_counts_days() {
        let today = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let window = DateWindow::last_days(today, 2);
        assert_eq!(window.since, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert!(window.contains(today));
        assert!(!window.contains(NaiveDate::from_ymd_opt(2024, 2, 28).unwrap()));
        let empty = DateWindow::last_days(today, 0);
        assert!(!empty.contains(today));
    }
}
