//! Converts the bank's view (connector types) into domain values, at the edge.

use crate::connectors::{
    BankAccount, BankMovement, BankMovementStatus, BankMovementType, ConnectorError,
    HolderType as BankHolderType, MfaKind, TransferAccount as BankTransfer,
};
use crate::domain::{
    AccountData, Balance, HolderType, InstitutionRef, MfaMethod, MovementData, MovementStatus,
    MovementType, PublicError, Timestamp, TransferAccount,
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

/// A bank movement as domain data.
pub fn movement_data(movement: &BankMovement) -> MovementData {
    MovementData {
        bank_id: movement.bank_id.clone(),
        amount: movement.amount,
        currency: movement.currency.clone(),
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
