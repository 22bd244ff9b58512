//! Row types: how domain values are laid out in tables. They never leave the store.

use anyhow::{anyhow, Context};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::domain::*;

/// `column_list!(; a, b)` is `"a, b"`; `column_list!(t; a, b)` is `"t.a AS a, t.b AS b"`.
macro_rules! column_list {
    (; $first:ident $(, $column:ident)* $(,)?) => {
        concat!(stringify!($first) $(, ", ", stringify!($column))*)
    };
    ($table:ident; $first:ident $(, $column:ident)* $(,)?) => {
        concat!(
            stringify!($table), ".", stringify!($first), " AS ", stringify!($first)
            $(, ", ", stringify!($table), ".", stringify!($column), " AS ", stringify!($column))*
        )
    };
}
pub(super) use column_list;

/// A query being built (for helpers that bind a group of values).
pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// What a helper binds a group of values to: a statement's parameters, or one row of a
/// multi-row statement's `VALUES` (so that the group is listed once for both).
pub(super) trait Bind<'q> {
    /// Appends `value` to the parameters.
    fn bind<T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>>(self, value: T) -> Self;
}

impl<'q> Bind<'q> for AnyQuery<'q> {
    fn bind<T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>>(self, value: T) -> Self {
        sqlx::query::Query::bind(self, value)
    }
}

impl<'q> Bind<'q> for &mut super::row_writes::Tuple<'_, 'q> {
    fn bind<T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>>(self, value: T) -> Self {
        self.push_bind(value)
    }
}

/// Binds an account's bank data as ten consecutive parameters, in the order every statement
/// that writes accounts lists them: name, official_name, number, holder_id, holder_name,
/// account_type, currency, balance_available, balance_current, balance_limit.
pub(super) fn bind_account_data<'q, B: Bind<'q>>(query: B, account: &'q AccountData) -> B {
    query
        .bind(&account.name)
        .bind(&account.official_name)
        .bind(&account.number)
        .bind(&account.holder_id)
        .bind(&account.holder_name)
        .bind(&account.account_type)
        .bind(&account.currency)
        .bind(account.balance.available)
        .bind(account.balance.current)
        .bind(account.balance.limit)
}

/// Binds a movement's bank data, all but its `bank_id`, as twelve consecutive parameters, in
/// the order every statement that writes movements lists them: amount, currency,
/// description, post_date, transaction_date, movement_type, status, pending, reference_id,
/// comment, sender_account, recipient_account.
pub(super) fn bind_movement_data<'q, B: Bind<'q>>(query: B, data: &'q MovementData) -> B {
    query
        .bind(data.amount)
        .bind(data.currency.as_str())
        .bind(&data.description)
        .bind(date_to_millis(data.post_date))
        .bind(data.transaction_date.map(Timestamp::millis))
        .bind(data.movement_type.as_str())
        .bind(data.status.as_str())
        .bind(super::flag(data.pending))
        .bind(&data.reference_id)
        .bind(&data.comment)
        .bind(transfer_to_column(data.sender_account.as_deref()))
        .bind(transfer_to_column(data.recipient_account.as_deref()))
}

/// Reads a 0/1 flag column.
pub(super) fn get_flag(row: &AnyRow, column: &str) -> anyhow::Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// Reads an optional epoch-millisecond column.
pub(super) fn get_time(row: &AnyRow, column: &str) -> anyhow::Result<Option<Timestamp>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(Timestamp::from_millis))
}

/// A date stored as midnight UTC in epoch milliseconds.
pub(super) fn date_to_millis(date: NaiveDate) -> i64 {
    Timestamp::start_of(date).millis()
}

fn millis_to_date(millis: i64) -> anyhow::Result<NaiveDate> {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.date_naive())
        .ok_or_else(|| anyhow!("stored date {millis} out of range"))
}

/// Parses a stored enum, failing loudly on values the code does not know.
fn parse_stored<T>(value: String, parse: impl Fn(&str) -> Option<T>) -> anyhow::Result<T> {
    parse(&value).ok_or_else(|| anyhow!("unknown stored value {value:?}"))
}

/// A link row.
pub(super) fn link_from_row(row: &AnyRow) -> anyhow::Result<Link> {
    Ok(Link {
        id: LinkId::from_trusted(row.try_get("id")?),
        organization_id: OrganizationId::from_trusted(row.try_get("organization_id")?),
        mode: parse_stored(row.try_get("mode")?, Mode::parse)?,
        institution: InstitutionRef {
            id: row.try_get("institution_id")?,
            name: row.try_get("institution_name")?,
            country: row.try_get("institution_country")?,
        },
        holder_type: parse_stored(row.try_get("holder_type")?, HolderType::parse)?,
        holder_id: row.try_get("holder_id")?,
        username: row.try_get("username")?,
        active: get_flag(row, "active")?,
        credential_status: parse_stored(
            row.try_get("credential_status")?,
            CredentialStatus::parse,
        )?,
        refresh_status: parse_stored(row.try_get("refresh_status")?, RefreshStatus::parse)?,
        last_time_refreshed: get_time(row, "last_time_refreshed")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        login_mfa: row
            .try_get::<Option<String>, _>("login_mfa")?
            .as_deref()
            .and_then(MfaMethod::parse),
    })
}

/// An account row.
pub(super) fn account_from_row(row: &AnyRow) -> anyhow::Result<Account> {
    Ok(Account {
        id: AccountId::from_trusted(row.try_get("id")?),
        link_id: LinkId::from_trusted(row.try_get("link_id")?),
        data: AccountData {
            bank_id: row.try_get("bank_id")?,
            name: row.try_get("name")?,
            official_name: row.try_get("official_name")?,
            number: row.try_get("number")?,
            holder_id: row.try_get("holder_id")?,
            holder_name: row.try_get("holder_name")?,
            account_type: row.try_get("account_type")?,
            currency: row.try_get("currency")?,
            balance: Balance {
                available: row.try_get("balance_available")?,
                current: row.try_get("balance_current")?,
                limit: row.try_get("balance_limit")?,
            },
        },
        refreshed_at: get_time(row, "refreshed_at")?,
        refresh_status: parse_stored(row.try_get("refresh_status")?, RefreshStatus::parse)?,
        next_refresh: get_time(row, "next_refresh")?,
        removed_from_link: get_flag(row, "removed_from_link")?,
    })
}

/// The JSON layout of a transfer counterparty column.
#[derive(Serialize, Deserialize)]
pub(super) struct TransferAccountRow {
    holder_id: Option<String>,
    holder_name: Option<String>,
    number: Option<String>,
    institution_id: Option<String>,
    institution_name: Option<String>,
    institution_country: Option<String>,
}

pub(super) fn transfer_to_column(account: Option<&TransferAccount>) -> Option<String> {
    account.map(|a| {
        let row = TransferAccountRow {
            holder_id: a.holder_id.clone(),
            holder_name: a.holder_name.clone(),
            number: a.number.clone(),
            institution_id: a.institution.as_ref().map(|i| i.id.clone()),
            institution_name: a.institution.as_ref().map(|i| i.name.clone()),
            institution_country: a.institution.as_ref().map(|i| i.country.clone()),
        };
        serde_json::to_string(&row).expect("plain strings serialize")
    })
}

fn transfer_from_column(text: Option<String>) -> anyhow::Result<Option<Box<TransferAccount>>> {
    let Some(text) = text else { return Ok(None) };
    let row: TransferAccountRow =
        serde_json::from_str(&text).context("stored transfer account is not valid JSON")?;
    let institution = row.institution_id.map(|id| InstitutionRef {
        id,
        name: row.institution_name.unwrap_or_default(),
        country: row.institution_country.unwrap_or_default(),
    });
    Ok(Some(Box::new(TransferAccount {
        holder_id: row.holder_id,
        holder_name: row.holder_name,
        number: row.number,
        institution,
    })))
}

/// The columns every movement read selects, in the order of [`MovementRow`]'s fields.
pub(super) const MOVEMENT_COLUMNS: &str = "id, account_id, bank_id, amount, currency, description,
    post_date, transaction_date, movement_type, status, pending, reference_id, comment,
    sender_account, recipient_account, removed_at";

/// A movement row as [`super::Dialect::json_rows`] carries it: one JSON array per row, its
/// values in [`MOVEMENT_COLUMNS`] order (serde reads a struct from an array field by field).
/// Movements are read in pages of hundreds, and as one text value a page crosses the
/// driver once instead of once per row (see [`super::Dialect::json_rows`]).
#[derive(Deserialize)]
pub(super) struct MovementRow {
    id: String,
    account_id: String,
    bank_id: String,
    amount: i64,
    currency: String,
    description: String,
    post_date: i64,
    transaction_date: Option<i64>,
    movement_type: String,
    status: String,
    pending: i64,
    reference_id: Option<String>,
    comment: Option<String>,
    sender_account: Option<String>,
    recipient_account: Option<String>,
    removed_at: Option<i64>,
}

impl MovementRow {
    /// Every row of a [`super::Dialect::json_rows`] value.
    pub(super) fn parse_all(json: &str) -> anyhow::Result<Vec<MovementRow>> {
        serde_json::from_str(json).context("stored movements as JSON rows")
    }

    /// Sorts rows as an account's movements are listed: newest `post_date` first, then by
    /// `id`, descending (SQL's `ORDER BY post_date DESC, id DESC`; ids compare bytewise in
    /// both).
    pub(super) fn sort_newest_first(rows: &mut [MovementRow]) {
        rows.sort_by(|a, b| (b.post_date, &b.id).cmp(&(a.post_date, &a.id)));
    }

    /// The bank already removed it (it stays stored, unlisted).
    pub(super) fn removed(&self) -> bool {
        self.removed_at.is_some()
    }

    /// The account it belongs to.
    pub(super) fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The movement it stores.
    pub(super) fn into_movement(mut self) -> anyhow::Result<Movement> {
        Ok(Movement {
            id: MovementId::from_trusted(std::mem::take(&mut self.id)),
            account_id: AccountId::from_trusted(std::mem::take(&mut self.account_id)),
            data: self.into_data()?,
        })
    }

    /// Its id and bank data, as a recording compares them with a fetch.
    pub(super) fn into_stored(mut self) -> anyhow::Result<crate::domain::ingest::StoredMovement> {
        Ok(crate::domain::ingest::StoredMovement {
            id: MovementId::from_trusted(std::mem::take(&mut self.id)),
            removed: self.removed(),
            data: self.into_data()?,
        })
    }

    fn into_data(self) -> anyhow::Result<MovementData> {
        Ok(MovementData {
            bank_id: self.bank_id,
            amount: self.amount,
            currency: parse_stored(self.currency, Currency::parse)?,
            description: self.description,
            post_date: millis_to_date(self.post_date)?,
            transaction_date: self.transaction_date.map(Timestamp::from_millis),
            movement_type: parse_stored(self.movement_type, MovementType::parse)?,
            status: parse_stored(self.status, MovementStatus::parse)?,
            pending: self.pending != 0,
            reference_id: self.reference_id,
            comment: self.comment,
            sender_account: transfer_from_column(self.sender_account)?,
            recipient_account: transfer_from_column(self.recipient_account)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::MovementRow;

    /// Rows in any order come out as `ORDER BY post_date DESC, id DESC` lists them: by date,
    /// and within a day by id, both newest first.
    #[test]
    fn movement_rows_sort_newest_first_by_date_then_id() {
        let row = |id: &str, post_date: i64| {
            format!(
                r#"["{id}","acc_1","b-{id}",100,"CLP","x",{post_date},null,"transfer","confirmed",0,null,null,null,null,null]"#
            )
        };
        let json = format!(
            "[{}]",
            [
                row("mov_b", 1),
                row("mov_a", 3),
                row("mov_c", 1),
                row("mov_d", 2),
                row("mov_a1", 3),
            ]
            .join(",")
        );
        let mut rows = MovementRow::parse_all(&json).unwrap();
        MovementRow::sort_newest_first(&mut rows);
        let order: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["mov_a1", "mov_a", "mov_d", "mov_c", "mov_b"]);
    }
}
