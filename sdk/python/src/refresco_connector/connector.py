"""The base class a connector author subclasses."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Awaitable, Sequence, TypeVar, Union

from .models import (
    AccountsPage,
    BankAccount,
    BankMovement,
    Credentials,
    DateWindow,
    FetchContext,
    Institution,
    LoginResult,
    MfaAnswer,
    MfaChallenge,
    MovementsPage,
    Session,
)

T = TypeVar("T")
#: Each method may be plain (run in a worker thread, for blocking scrapers such as requests or
#: woob) or `async def` (run on the event loop, for httpx.AsyncClient and friends).
MaybeAwaitable = Union[T, Awaitable[T]]


class Connector(ABC):
    """One connector service: the banks in `institutions` and the four calls of protocol v1.

    Keep nothing on `self` between calls: Refresco may send the `/mfa` of a login to another
    process of the same connector, so everything a later call needs travels in the session.
    Raise the classes of `refresco_connector.errors` when the bank refuses something.
    """

    #: The banks this connector serves (`GET /manifest`): a class attribute, or set in
    #: `__init__` when they depend on configuration.
    institutions: Sequence[Institution] = ()

    @abstractmethod
    def login(
        self, institution_id: str, credentials: Credentials
    ) -> MaybeAwaitable[LoginResult]:
        """Log in: `LoggedIn(session=...)`, or `MfaRequired(challenge=...)` when the bank asks
        for a second factor."""

    def answer_mfa(
        self, institution_id: str, challenge: MfaChallenge, answer: MfaAnswer
    ) -> MaybeAwaitable[Session]:
        """Finish a login with the holder's answer (`MfaCode` or `"approved"`): the logged-in
        session. Only banks that ask for a second factor need it."""
        raise NotImplementedError("this connector never asks for a second factor")

    @abstractmethod
    def list_accounts(
        self, institution_id: str, session: Session, context: FetchContext
    ) -> MaybeAwaitable[Union[Sequence[BankAccount], AccountsPage]]:
        """The holder's accounts (or an `AccountsPage` to hand back a renewed session)."""

    @abstractmethod
    def fetch_movements(
        self,
        institution_id: str,
        session: Session,
        account: BankAccount,
        window: DateWindow,
        context: FetchContext,
        cursor: str | None,
    ) -> MaybeAwaitable[Union[Sequence[BankMovement], MovementsPage]]:
        """Movements with `post_date` in `window`, newest first.

        Return a list for everything at once, or a `MovementsPage` whose `next_cursor` says
        where the next page starts (Refresco calls again with it as `cursor` until it is
        `None`)."""
