"""The protocol's messages as pydantic models, named and shaped as in
docs/connector-protocol.openapi.json.

Models a connector returns (`BankAccount`, `BankMovement`, ...) are validated when built, so a
wrong type fails in the connector's own code, where the mistake is, rather than as a protocol
violation reported by Refresco. Models Refresco sends ignore unknown fields, so a newer server
that adds one does not break an older connector.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt

#: Whatever JSON the connector needs to continue (cookies, tokens). Refresco keeps it sealed
#: between calls and hands it back; never put the password in it.
Session = Any

HolderType = Literal["individual", "business"]
AccountType = Literal["checking_account", "line_of_credit", "savings_account", "sight_account"]
MovementType = Literal["transfer", "check", "other"]
MovementStatus = Literal["confirmed", "pending", "reversed"]
MfaKind = Literal["sms", "device", "app"]

PROTOCOL_VERSION = 1


class _Sent(BaseModel):
    """A message Refresco sends: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Returned(BaseModel):
    """A message the connector returns: a misspelt field is an error, not silently dropped,
    and models nested in a page are checked again when the page is built (a model made with
    `model_construct` or changed after building cannot slip a wrong type onto the wire)."""

    model_config = ConfigDict(extra="forbid", revalidate_instances="always", validate_assignment=True)


# --- What the connector returns --------------------------------------------------------------


class Institution(_Returned):
    """A bank the connector serves, as `GET /manifest` lists it."""

    id: str = Field(description="Fintoc-style id, e.g. `cl_banco_acme`.")
    name: str
    country: str = Field(description="`cl` or `mx`.")
    currency: str = Field(description="ISO 4217 code, e.g. `CLP`.")


class Manifest(_Returned):
    protocol: int = PROTOCOL_VERSION
    institutions: list[Institution]


class TransferAccount(_Returned):
    """The other side of a transfer, as far as the bank tells."""

    holder_id: str | None = None
    holder_name: str | None = None
    number: str | None = None
    institution_id: str | None = None
    institution_name: str | None = None
    institution_country: str | None = None


class BankAccount(BaseModel):
    """An account as the bank shows it. Balances are integers in the currency's smallest unit.

    Unknown fields are ignored: Refresco sends this back in `POST /movements`.
    """

    model_config = ConfigDict(extra="ignore", revalidate_instances="always", validate_assignment=True)

    bank_id: str = Field(description="Stable across fetches: same account, same id.")
    name: str
    official_name: str
    number: str
    holder_id: str
    holder_name: str
    account_type: AccountType
    currency: str
    balance_available: StrictInt
    balance_current: StrictInt
    balance_limit: StrictInt


class BankMovement(_Returned):
    """One movement. `bank_id` must stay the same when the bank modifies the movement: that is
    how Refresco tells a modified movement from a new one."""

    bank_id: str
    amount: StrictInt = Field(description="Smallest unit; positive in, negative out.")
    currency: str
    description: str
    post_date: date
    transaction_date: datetime | None = None
    movement_type: MovementType = "other"
    status: MovementStatus = "confirmed"
    pending: bool = False
    reference_id: str | None = None
    comment: str | None = None
    sender_account: TransferAccount | None = None
    recipient_account: TransferAccount | None = None


class MfaChallenge(BaseModel):
    """A second factor the bank waits for. `session` is the half-open login, handed back to
    `answer_mfa` (possibly by another process, so keep everything needed in it)."""

    model_config = ConfigDict(extra="ignore")

    kind: MfaKind
    session: Session
    hint: str | None = Field(default=None, description="e.g. the masked phone number.")


class LoggedIn(_Returned):
    outcome: Literal["logged_in"] = "logged_in"
    session: Session


class MfaRequired(_Returned):
    outcome: Literal["mfa_required"] = "mfa_required"
    challenge: MfaChallenge


LoginResult = Union[LoggedIn, MfaRequired]


class AccountsPage(_Returned):
    """`list_accounts` may return this instead of a plain list to renew the session."""

    accounts: list[BankAccount]
    session: Session | None = None


class MovementsPage(_Returned):
    """`fetch_movements` returns this to page (set `next_cursor`) or renew the session; a
    plain list is one page and the last."""

    movements: list[BankMovement]
    next_cursor: str | None = None
    session: Session | None = None


class MfaDone(_Returned):
    session: Session


class ErrorBody(_Returned):
    code: str
    message: str = ""
    attempts_left: int | None = None
    bank_id: str | None = None
    #: `class` on the wire (a Python keyword, hence the alias).
    error_class: str | None = Field(default=None, serialization_alias="class")


# --- What Refresco sends ---------------------------------------------------------------------


class Credentials(_Sent):
    """The holder's login. `password` is a `SecretStr`: printing it, or a model holding it,
    shows `**********`; call `.get_secret_value()` where the bank needs it."""

    username: str
    password: SecretStr
    holder_type: HolderType = "individual"


class FetchContext(_Sent):
    today: date = Field(description="The bank's day.")
    refresh_number: int = Field(ge=0, description="0 when the link is created, then 1, 2, ...")


class DateWindow(_Sent):
    """The `post_date`s wanted, both ends included."""

    since: date
    until: date

    def __contains__(self, day: date) -> bool:
        return self.since <= day <= self.until


class MfaCode(_Sent):
    """A typed code (SMS or device token)."""

    code: str


#: The holder approved the login in the bank's app.
Approved = Literal["approved"]
MfaAnswer = Union[MfaCode, Approved]


class LoginRequest(_Sent):
    institution_id: str
    credentials: Credentials


class MfaRequest(_Sent):
    institution_id: str
    challenge: MfaChallenge
    answer: MfaAnswer


class AccountsRequest(_Sent):
    institution_id: str
    session: Session
    context: FetchContext


class MovementsRequest(_Sent):
    institution_id: str
    session: Session
    account: BankAccount
    window: DateWindow
    context: FetchContext
    cursor: str | None = None
