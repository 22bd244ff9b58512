"""Write a Refresco bank connector in Python.

Subclass `Connector`, list your banks in `institutions`, implement `login`, `answer_mfa` (if
the bank asks for a second factor), `list_accounts` and `fetch_movements`, raise the classes of
`errors` when the bank refuses, and call `serve(MyConnector())`. See docs/connectors.md.
"""

from .connector import Connector
from .errors import (
    AccountFailed,
    ActionNeeded,
    ConnectorError,
    CredentialsLocked,
    CustomError,
    InvalidCredentials,
    MfaExpired,
    OtherError,
    PasswordExpired,
    RateLimited,
    SessionExpired,
    SupportRequired,
    Unavailable,
    WrongMfaCode,
)
from .models import (
    AccountsPage,
    BankAccount,
    BankMovement,
    Credentials,
    DateWindow,
    FetchContext,
    Institution,
    LoggedIn,
    LoginResult,
    MfaAnswer,
    MfaChallenge,
    MfaCode,
    MfaRequired,
    MovementsPage,
    Session,
    TransferAccount,
)
from .serve import configure_logging, serve
from .server import app

__all__ = [
    "AccountFailed",
    "AccountsPage",
    "ActionNeeded",
    "BankAccount",
    "BankMovement",
    "Connector",
    "ConnectorError",
    "Credentials",
    "CredentialsLocked",
    "CustomError",
    "DateWindow",
    "FetchContext",
    "Institution",
    "InvalidCredentials",
    "LoggedIn",
    "LoginResult",
    "MfaAnswer",
    "MfaChallenge",
    "MfaCode",
    "MfaExpired",
    "MfaRequired",
    "MovementsPage",
    "OtherError",
    "PasswordExpired",
    "RateLimited",
    "Session",
    "SessionExpired",
    "SupportRequired",
    "TransferAccount",
    "Unavailable",
    "WrongMfaCode",
    "app",
    "configure_logging",
    "serve",
]
