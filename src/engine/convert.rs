//! Converts the bank's view (connector types) into domain values, at the edge.

use crate::connectors::{
    BankAccount, BankMovement, BankMovementStatus, BankMovementType, ConnectorError,
    HolderType as BankHolderType, MfaKind, TransferAccount as BankTransfer,
};
use crate::domain::{
    AccountData, Balance, Currency, HolderType, InstitutionRef, MfaMethod, MovementData,
    MovementStatus, MovementType, PublicError, Timestamp, TransferAccount,
};

/// A bank account as domain data.
pub fn account_data(account: &BankAccount) -> AccountData {
    AccountData {
        bank_id: account.bank_id.clone(),
        name: account.name.clone(),
        official_name: account.official_name.clone(),
        number: account.number.clone(),
        holder_id: account.holder_id.clone(),
        holder_name: account.holder_name.clone(),
        account_type: account.account_type.clone(),
        currency: account.currency.clone(),
        balance: Balance {
            available: account.balance_available,
            current: account.balance_current,
            limit: account.balance_limit,
        },
    }
}

fn transfer(account: &BankTransfer) -> Box<TransferAccount> {
    Box::new(TransferAccount {
        holder_id: account.holder_id.clone(),
        holder_name: account.holder_name.clone(),
        number: account.number.clone(),
        institution: account.institution_id.as_ref().map(|id| InstitutionRef {
            id: id.clone(),
            name: account.institution_name.clone().unwrap_or_default(),
            country: account.institution_country.clone().unwrap_or_default(),
        }),
    })
}

/// The movements the bank returned for `account`, as domain data. A movement whose currency is
/// not a currency code, or a `bank_id` given twice (a connector whose pages overlap), fails the
/// whole account, as an account the bank could not read does: its movements are not stored
/// this time, it is marked failed, and the next refresh asks again. (Storing the movement with
/// a made-up currency, or keeping one of two movements that claim one id, would make the
/// stored statement wrong.)
pub fn movements(
    account: &BankAccount,
    list: &[BankMovement],
) -> Result<Vec<MovementData>, ConnectorError> {
    let failed = |reason: String| ConnectorError::AccountFailed {
        bank_id: account.bank_id.clone(),
        reason,
    };
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    list.iter()
        .map(|movement| {
            if !seen.insert(movement.bank_id.as_str()) {
                return Err(failed(format!(
                    "the bank gave movement {} twice",
                    movement.bank_id
                )));
            }
            let currency = Currency::parse(&movement.currency).ok_or_else(|| {
                failed(format!(
                    "the bank gave movement {} the currency {:?}, not an ISO 4217 code",
                    movement.bank_id, movement.currency
                ))
            })?;
            Ok(movement_data(movement, currency))
        })
        .collect()
}

/// A bank movement as domain data, in `currency` (its own, checked).
fn movement_data(movement: &BankMovement, currency: Currency) -> MovementData {
    MovementData {
        bank_id: movement.bank_id.clone(),
        amount: movement.amount,
        currency,
        description: movement.description.clone(),
        post_date: movement.post_date,
        transaction_date: movement.transaction_date.map(Timestamp::from_datetime),
        movement_type: match movement.movement_type {
            BankMovementType::Transfer => MovementType::Transfer,
            BankMovementType::Check => MovementType::Check,
            BankMovementType::Other => MovementType::Other,
        },
        status: match movement.status {
            BankMovementStatus::Confirmed => MovementStatus::Confirmed,
            BankMovementStatus::Pending => MovementStatus::Pending,
            BankMovementStatus::Reversed => MovementStatus::Reversed,
        },
        pending: movement.pending,
        reference_id: movement.reference_id.clone(),
        comment: movement.comment.clone(),
        sender_account: movement.sender_account.as_ref().map(transfer),
        recipient_account: movement.recipient_account.as_ref().map(transfer),
    }
}

/// The connector's holder type for a domain one.
pub fn bank_holder_type(holder_type: HolderType) -> BankHolderType {
    match holder_type {
        HolderType::Individual => BankHolderType::Individual,
        HolderType::Business => BankHolderType::Business,
    }
}

/// The domain's name for a bank's second factor.
pub fn mfa_method(kind: MfaKind) -> MfaMethod {
    match kind {
        MfaKind::Sms => MfaMethod::Sms,
        MfaKind::Device => MfaMethod::Device,
        MfaKind::App => MfaMethod::App,
    }
}

/// The `public_error` a connector failure ends a refresh with.
pub fn public_error(error: &ConnectorError) -> PublicError {
    PublicError::parse(error.public_error()).unwrap_or(PublicError::Retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> BankAccount {
        serde_json::from_value(serde_json::json!({
            "bank_id": "acc-1", "name": "Cuenta Corriente", "official_name": "Cuenta Corriente",
            "number": "123", "holder_id": "416148503", "holder_name": "Jon Snow",
            "account_type": "checking_account", "currency": "CLP",
            "balance_available": 0, "balance_current": 0, "balance_limit": 0
        }))
        .unwrap()
    }

    fn movement(bank_id: &str, currency: &str) -> BankMovement {
        serde_json::from_value(serde_json::json!({
            "bank_id": bank_id, "amount": -1500, "currency": currency,
            "description": "Pago", "post_date": "2026-11-02", "transaction_date": null,
            "movement_type": "other", "status": "confirmed", "pending": false,
            "reference_id": null, "comment": null,
            "sender_account": null, "recipient_account": null
        }))
        .unwrap()
    }

    #[test]
    fn currencies_are_checked_and_a_bad_one_fails_its_account() {
        let ok = movements(&account(), &[movement("m1", "clp"), movement("m2", "CLP")]).unwrap();
        assert!(ok.iter().all(|m| m.currency.as_str() == "CLP"));

        let bad = movements(
            &account(),
            &[movement("m1", "CLP"), movement("m2", "pesos")],
        );
        match bad {
            Err(ConnectorError::AccountFailed { bank_id, reason }) => {
                assert_eq!(bank_id, "acc-1");
                assert!(
                    reason.contains("m2") && reason.contains("pesos"),
                    "{reason}"
                );
            }
            other => panic!("expected the account to fail, got {other:?}"),
        }
    }

    #[test]
    fn a_movement_given_twice_fails_its_account() {
        let twice = movements(
            &account(),
            &[
                movement("m1", "CLP"),
                movement("m2", "CLP"),
                movement("m1", "CLP"),
            ],
        );
        match twice {
            Err(ConnectorError::AccountFailed { bank_id, reason }) => {
                assert_eq!(bank_id, "acc-1");
                assert!(
                    reason.contains("m1") && reason.contains("twice"),
                    "{reason}"
                );
            }
            other => panic!("expected the account to fail, got {other:?}"),
        }
    }
}
