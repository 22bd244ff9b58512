"""A connector over an in-memory bank, for the SDK's own tests: one user logs straight in,
another needs an SMS code, a third makes the connector crash with the password in the error."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from refresco_connector import (
    BankAccount,
    BankMovement,
    Connector,
    Credentials,
    DateWindow,
    FetchContext,
    Institution,
    InvalidCredentials,
    LoggedIn,
    MfaChallenge,
    MfaCode,
    MfaRequired,
    MovementsPage,
    WrongMfaCode,
)
from refresco_connector.errors import BY_CODE, AccountFailed

log = logging.getLogger("toybank")

PASSWORD = "hunter2-toybank-secret"
SMS_CODE = "424242"
TODAY = date(2026, 3, 10)


def account(number: str = "1") -> BankAccount:
    return BankAccount(
        bank_id=f"acc-{number}",
        name="Cuenta Corriente",
        official_name="Cuenta Corriente Toy",
        number=number,
        holder_id="111111111",
        holder_name="Ada Toy",
        account_type="checking_account",
        currency="CLP",
        balance_available=1000,
        balance_current=1000,
        balance_limit=1000,
    )


def movements() -> list[BankMovement]:
    return [
        BankMovement(
            bank_id=f"mov-{i}",
            amount=100 * (i + 1) * (-1 if i % 2 else 1),
            currency="CLP",
            description=f"Movement {i}",
            post_date=TODAY - timedelta(days=i),
        )
        for i in range(5)
    ]


class ToyBank(Connector):
    institutions = [Institution(id="cl_toy", name="Toy Bank", country="cl", currency="CLP")]

    def login(self, institution_id: str, credentials: Credentials) -> LoggedIn | MfaRequired:
        password = credentials.password.get_secret_value()
        if credentials.username == "crash":
            # A careless scraper: logs the password and crashes with it in the message.
            log.warning("logging in with %s", password)
            raise RuntimeError(f"bank said no to {password}")
        if credentials.username == "careless":
            raise InvalidCredentials(f"the bank says {password} is wrong")
        if credentials.username.startswith("error:"):
            code = credentials.username.removeprefix("error:")
            if code == "account_failed":
                raise AccountFailed("acc-1", "statement page missing")
            if code == "wrong_mfa_code":
                raise WrongMfaCode("try again", attempts_left=2)
            raise BY_CODE[code]("the bank refused")
        if password != PASSWORD:
            raise InvalidCredentials("wrong username or password")
        session = {"cookie": f"sess-{credentials.username}"}
        if credentials.username == "mfa":
            return MfaRequired(
                challenge=MfaChallenge(kind="sms", session=session, hint="+56 9 **** 1234")
            )
        return LoggedIn(session=session)

    async def answer_mfa(self, institution_id, challenge, answer):  # type: ignore[override]
        if not isinstance(answer, MfaCode) or answer.code != SMS_CODE:
            raise WrongMfaCode("wrong code", attempts_left=2)
        return {**challenge.session, "mfa": "done"}

    def list_accounts(self, institution_id: str, session, context: FetchContext):  # type: ignore[override]
        if session.get("cookie") == "sess-bad-answer":
            # Breaks the protocol after the fact: built unchecked, as a buggy scraper could.
            return [BankAccount.model_construct(**{**account().model_dump(), "balance_current": 1.5})]
        return [account("1"), account("2")]

    async def fetch_movements(  # type: ignore[override]
        self, institution_id, session, account, window: DateWindow, context, cursor
    ):
        wanted = [m for m in movements() if m.post_date in window]
        if account.bank_id == "acc-2":
            return wanted  # a plain list: one page
        start = int(cursor or 0)
        page = wanted[start : start + 2]
        more = start + 2 < len(wanted)
        return MovementsPage(movements=page, next_cursor=str(start + 2) if more else None)
