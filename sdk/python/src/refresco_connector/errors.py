"""What a connector raises when the bank says no, one class per protocol error code.

The server turns each into the protocol's error answer (`{"error": {"code", "message"}}`) with
the status Refresco's own reference server uses. Anything else a connector raises becomes
`other` (a bug in the scraper, say) and Refresco retries later.

Messages travel to Refresco and its logs: never put a password, a code or a session in them.
"""

from __future__ import annotations

from typing import ClassVar

from .models import ErrorBody


class ConnectorError(Exception):
    """Base class: raise a subclass so Refresco knows what failed."""

    code: ClassVar[str] = "other"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message or self.code.replace("_", " "))


class InvalidCredentials(ConnectorError):
    """The bank refused the username or password; the link needs new credentials."""

    code = "invalid_credentials"
    status = 401


class CredentialsLocked(ConnectorError):
    """The bank locked the credentials."""

    code = "credentials_locked"
    status = 423


class Unavailable(ConnectorError):
    """The bank is down or slow; trying later may work."""

    code = "unavailable"
    status = 503


class SupportRequired(ConnectorError):
    """The bank needs a person (an action on its site, a form, a contract to accept)."""

    code = "support_required"
    status = 422


class WrongMfaCode(ConnectorError):
    """The second-factor code was wrong; the challenge stays valid."""

    code = "wrong_mfa_code"
    status = 401

    def __init__(self, message: str = "", attempts_left: int | None = None) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left

    def body(self) -> ErrorBody:
        return super().body().model_copy(update={"attempts_left": self.attempts_left})


class MfaExpired(ConnectorError):
    """The challenge can no longer be answered."""

    code = "mfa_expired"
    status = 409


class SessionExpired(ConnectorError):
    """The session is unusable; logging in again fixes it."""

    code = "session_expired"
    status = 409


class AccountFailed(ConnectorError):
    """One account could not be read; the others are still recorded."""

    code = "account_failed"
    status = 422

    def __init__(self, bank_id: str, message: str = "") -> None:
        super().__init__(message)
        self.bank_id = bank_id

    def body(self) -> ErrorBody:
        return super().body().model_copy(update={"bank_id": self.bank_id})


class OtherError(ConnectorError):
    """Anything else (a page the scraper cannot parse)."""


#: Every code of protocol v1, by name.
BY_CODE: dict[str, type[ConnectorError]] = {
    cls.code: cls
    for cls in (
        InvalidCredentials,
        CredentialsLocked,
        Unavailable,
        SupportRequired,
        WrongMfaCode,
        MfaExpired,
        SessionExpired,
        AccountFailed,
        OtherError,
    )
}
