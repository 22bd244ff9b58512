"""What a connector raises when the bank says no, one class per protocol error code.

The server turns each into the protocol's error answer (`{"error": {"code", "message",
"class"}}`) with the status Refresco's own reference server uses. Each code has its class
(`person`: the holder must act; `transient`: later may work; `connector`: the scraper or the
bank's site misbehaved), which decides how Refresco ends the refresh. Anything else a connector
raises becomes `other` (a bug in the scraper, say), a connector fault for an operator to look
at. A code of your own goes out with `CustomError(code, error_class)`.

Messages travel to Refresco and its logs: never put a password, a code or a session in them.
"""

from __future__ import annotations

from typing import ClassVar

from .models import ErrorBody


class ConnectorError(Exception):
    """Base class: raise a subclass so Refresco knows what failed."""

    code: ClassVar[str] = "other"
    error_class: ClassVar[str] = "connector"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> ErrorBody:
        return ErrorBody(
            code=self.code,
            message=self.message or self.code.replace("_", " "),
            error_class=self.error_class,
        )


class InvalidCredentials(ConnectorError):
    """The bank refused the username or password; the link needs new credentials."""

    code = "invalid_credentials"
    error_class = "person"
    status = 401


class CredentialsLocked(ConnectorError):
    """The bank locked the credentials."""

    code = "credentials_locked"
    error_class = "person"
    status = 423


class Unavailable(ConnectorError):
    """The bank is down or slow; trying later may work."""

    code = "unavailable"
    error_class = "transient"
    status = 503


class SupportRequired(ConnectorError):
    """The bank needs a person (an action on its site, a form, a contract to accept)."""

    code = "support_required"
    error_class = "connector"
    status = 422


class WrongMfaCode(ConnectorError):
    """The second-factor code was wrong; the challenge stays valid."""

    code = "wrong_mfa_code"
    error_class = "transient"
    status = 401

    def __init__(self, message: str = "", attempts_left: int | None = None) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left

    def body(self) -> ErrorBody:
        return super().body().model_copy(update={"attempts_left": self.attempts_left})


class MfaExpired(ConnectorError):
    """The challenge can no longer be answered."""

    code = "mfa_expired"
    error_class = "transient"
    status = 409


class SessionExpired(ConnectorError):
    """The session is unusable; logging in again fixes it."""

    code = "session_expired"
    error_class = "transient"
    status = 409


class AccountFailed(ConnectorError):
    """One account could not be read; the others are still recorded."""

    code = "account_failed"
    error_class = "transient"
    status = 422

    def __init__(self, bank_id: str, message: str = "") -> None:
        super().__init__(message)
        self.bank_id = bank_id

    def body(self) -> ErrorBody:
        return super().body().model_copy(update={"bank_id": self.bank_id})


class PasswordExpired(ConnectorError):
    """The bank wants a new password before it lets the holder in."""

    code = "password_expired"
    error_class = "person"
    status = 403


class ActionNeeded(ConnectorError):
    """The bank wants the holder to do something first (accept new terms, update a profile)."""

    code = "action_needed"
    error_class = "person"
    status = 403


class RateLimited(ConnectorError):
    """The bank limits how often it may be called, and the limit was reached."""

    code = "rate_limited"
    error_class = "transient"
    status = 429


class OtherError(ConnectorError):
    """Anything else (a page the scraper cannot parse)."""


class CustomError(ConnectorError):
    """A code of your own, with its class (`person`, `transient` or `connector`): Refresco
    handles it by the class."""

    CLASSES: ClassVar[tuple[str, ...]] = ("person", "transient", "connector")

    def __init__(self, code: str, error_class: str, message: str = "") -> None:
        if error_class not in self.CLASSES:
            raise ValueError(f"error_class must be one of {self.CLASSES}, not {error_class!r}")
        super().__init__(message)
        self.custom_code = code
        self.custom_class = error_class

    def body(self) -> ErrorBody:
        return ErrorBody(
            code=self.custom_code,
            message=self.message or self.custom_code.replace("_", " "),
            error_class=self.custom_class,
        )


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
        PasswordExpired,
        ActionNeeded,
        RateLimited,
        OtherError,
    )
}
