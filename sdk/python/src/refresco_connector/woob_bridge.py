"""Serves any woob bank module (CapBank) as a Refresco connector.

    REFRESCO_CONNECTOR_TOKEN=... python -m refresco_connector.woob_bridge \\
        --modules-path ./my_woob_modules --module mybank \\
        --institution "cl_my_bank:My Bank:cl:CLP" --param website=par --listen 127.0.0.1:7000

Needs woob (`pip install "refresco-connector[woob]"`). How woob's world maps onto protocol v1:

- `Account` → `BankAccount`: `id` is the bank id; balances are woob `Decimal`s turned into the
  currency's smallest unit, exactly (a fraction left over is an error, never rounded away).
  woob has no holder tax id, so the login (a RUT, say) without dots and hyphens stands in.
- `Transaction` → `BankMovement`: the module's `id` is the bank id. A module that leaves it
  empty gets woob's `unique_id` (a hash of date, amount and label), which changes when the bank
  edits the movement: Refresco then sees a removal and a new movement, not a modification.
- A login that raises `SentOTPQuestion` (a code sent by SMS, e-mail, ...), `OfflineOTPQuestion`
  or another `BrowserQuestion` becomes `mfa_required` (kind `sms` or `device`); `AppValidation`
  becomes kind `app`. The answer is set on the question's config field and the login resumed
  from the browser's dumped state, so the password is never kept in the session.
- `BrowserIncorrectPassword` → `invalid_credentials` (`BrowserUserBanned` → `credentials_locked`);
  `ActionNeeded` (and `BrowserPasswordExpired`), `BrowserForbidden`, `NeedInteractive` →
  `support_required`; `BrowserUnavailable` (5xx, `BrowserTooManyRequests`, blocked scraping)
  and network errors → `unavailable`; during `/mfa` a refused code is `wrong_mfa_code` and an
  expired validation `mfa_expired`; during `/accounts` and `/movements` a module that needs
  to log in again gets `session_expired` instead (it would log in without the password).
"""

from __future__ import annotations

import argparse
import logging
import re
import threading
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

import requests
from woob.browser.exceptions import BrowserTooManyRequests
from woob.capabilities.bank import Account, AccountType, Transaction
from woob.capabilities.base import empty
from woob.core.woob import WoobBase
from woob.exceptions import (
    ActionNeeded,
    AppValidation,
    AuthMethodNotImplemented,
    AppValidationCancelled,
    AppValidationExpired,
    BrowserForbidden,
    BrowserIncorrectPassword,
    BrowserPasswordExpired,
    BrowserQuestion,
    BrowserUnavailable,
    BrowserUserBanned,
    NeedInteractive,
    OfflineOTPQuestion,
    SentOTPQuestion,
)
from woob.tools.storage import IStorage

from .connector import Connector
from .errors import (
    AccountFailed,
    ConnectorError,
    CredentialsLocked,
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
from .errors import ActionNeeded as HolderActionNeeded
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
)
from .serve import serve

log = logging.getLogger(__name__)

# Currencies whose smallest unit is not the hundredth (ISO 4217 minor units).
MINOR_UNITS = {"CLP": 0, "JPY": 0, "KRW": 0, "PYG": 0, "ISK": 0, "VND": 0, "XOF": 0, "XAF": 0, "CLF": 4}

ACCOUNT_TYPES = {
    AccountType.CHECKING: "checking_account",
    AccountType.SAVINGS: "savings_account",
    AccountType.DEPOSIT: "savings_account",
    AccountType.LIVRET_A: "savings_account",
    AccountType.LIVRET_B: "savings_account",
    AccountType.REVOLVING_CREDIT: "line_of_credit",
}


def minor_units(amount: Decimal, currency: str) -> int:
    scaled = Decimal(amount).scaleb(MINOR_UNITS.get(currency, 2))
    if scaled != scaled.to_integral_value():
        raise OtherError(f"{amount} {currency} is not a whole number of the smallest unit")
    return int(scaled)


class _MemoryStorage(IStorage):
    """woob's storage interface over one dict: where the bridge hands a backend the browser
    state from the session, and reads the new one back."""

    def __init__(self, state: dict | None) -> None:
        self.tree: dict = {}
        self.state = state

    def load(self, what, name, default={}):  # noqa: B006 - woob's signature
        self.tree = {"browser_state": self.state} if self.state else dict(default)

    def save(self, what, name):
        pass

    def set(self, what, name, *args):
        *path, value = args
        node = self.tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    def delete(self, what, name, *args):
        self.tree.pop(args[0], None)

    def get(self, what, name, *args, **kwargs):
        node: Any = self.tree
        for key in args:
            if not isinstance(node, dict) or key not in node:
                return kwargs.get("default")
            node = node[key]
        return node


def translate(error: Exception) -> ConnectorError:
    """woob's (and requests') exceptions as the protocol's errors."""
    if isinstance(error, ConnectorError):
        return error
    text = str(error)[:200]
    if isinstance(error, BrowserUserBanned):
        return CredentialsLocked(text or "the bank locked the credentials")
    if isinstance(error, BrowserIncorrectPassword):
        return InvalidCredentials(text or "the bank refused the credentials")
    if isinstance(error, BrowserPasswordExpired):
        return PasswordExpired(text or "the bank wants a new password")
    # The module cannot do the bank's login: the connector's to fix, not the holder's.
    if isinstance(error, AuthMethodNotImplemented):
        return SupportRequired(text or "the woob module cannot log in to this bank")
    if isinstance(error, ActionNeeded):
        return HolderActionNeeded(text or "the bank asks the holder to act first")
    if isinstance(error, (BrowserForbidden, NeedInteractive)):
        return SupportRequired(text or f"the bank needs a person ({type(error).__name__})")
    if isinstance(error, BrowserTooManyRequests):
        return RateLimited(text or "the bank is limiting requests")
    if isinstance(error, (BrowserUnavailable, requests.ConnectionError, requests.Timeout)):
        return Unavailable(f"the bank is unavailable ({type(error).__name__})")
    return OtherError(f"the woob module failed ({type(error).__name__})")


class WoobBankConnector(Connector):
    """One woob CapBank module as one institution."""

    def __init__(
        self,
        module: str,
        institution: Institution,
        *,
        modules_path: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self.institutions = [institution]
        self.module = module
        self.params = dict(params or {})
        self.woob = WoobBase(modules_path=modules_path)
        # Loaded once here: woob's loader is not made for concurrent first loads.
        self._config_keys = set(self.woob.modules_loader.get_or_load_module(module).config)
        self._lock = threading.Lock()

    # --- backends ---------------------------------------------------------------------------

    def _backend(self, config: dict[str, str], state: dict | None):
        if "request_information" in self._config_keys:
            # A person is at the widget: modules may ask for a second factor.
            config = {**config, "request_information": "{}"}
        with self._lock:
            return self.woob.build_backend(
                self.module, params={**self.params, **config}, storage=_MemoryStorage(state), nofail=True
            )

    @staticmethod
    def _session(backend, login: str, field: str | None = None) -> dict:
        session = {"login": login, "state": backend.browser.dump_state()}
        if field:
            session["field"] = field
        return session

    def _data_backend(self, session: Session):
        """A backend on the session's state that never logs in again: it would have to do so
        without the password, and a wrong try can lock the holder out."""
        backend = self._backend({"login": session["login"]}, session.get("state"))

        def refuse_login() -> None:
            raise SessionExpired("the bank's session expired")

        backend.browser.do_login = refuse_login
        return backend

    # --- the protocol ----------------------------------------------------------------------

    def login(self, institution_id: str, credentials: Credentials) -> LoginResult:
        login = credentials.username
        config = {"login": login, "password": credentials.password.get_secret_value()}
        try:
            backend = self._backend(config, None)
            backend.browser.do_login()
        except AppValidation as question:
            field = "resume" if "resume" in self._config_keys else "code"
            return self._challenge("app", question, backend, login, field, getattr(question, "message", None))
        except SentOTPQuestion as question:
            hint = question.medium_label or question.message or None
            return self._challenge("sms", question, backend, login, question.fields[0].id, hint)
        except OfflineOTPQuestion as question:
            hint = question.medium_label or None
            return self._challenge("device", question, backend, login, question.fields[0].id, hint)
        except BrowserQuestion as question:
            field = question.fields[0]
            return self._challenge("device", question, backend, login, field.id, field.label or None)
        except Exception as e:
            raise translate(e) from None
        return LoggedIn(session=self._session(backend, login))

    def _challenge(self, kind, question, backend, login, field, hint) -> MfaRequired:
        log.info("the bank asks for a second factor (%s)", type(question).__name__)
        session = self._session(backend, login, field)
        return MfaRequired(challenge=MfaChallenge(kind=kind, session=session, hint=hint))

    def answer_mfa(self, institution_id: str, challenge: MfaChallenge, answer: MfaAnswer) -> Session:
        session = challenge.session
        value = answer.code if isinstance(answer, MfaCode) else "true"
        try:
            backend = self._backend({"login": session["login"], session["field"]: value}, session["state"])
            backend.browser.do_login()
        except (AppValidationExpired, AppValidationCancelled) as e:
            raise MfaExpired(str(e)[:200] or "the challenge expired") from None
        except (BrowserQuestion, AppValidation):
            raise MfaExpired("the bank started a new challenge") from None
        except BrowserUserBanned as e:
            raise CredentialsLocked(str(e)[:200]) from None
        except BrowserIncorrectPassword as e:
            raise WrongMfaCode(str(e)[:200] or "the bank refused the code") from None
        except Exception as e:
            raise translate(e) from None
        return self._session(backend, session["login"])

    def list_accounts(self, institution_id: str, session: Session, context: FetchContext) -> AccountsPage:
        try:
            backend = self._data_backend(session)
            accounts = list(backend.iter_accounts())
            renewed = self._session(backend, session["login"])
        except Exception as e:
            raise translate(e) from None
        currency = self.institutions[0].currency
        return AccountsPage(accounts=[self._account(a, session["login"], currency) for a in accounts], session=renewed)

    def fetch_movements(
        self,
        institution_id: str,
        session: Session,
        account: BankAccount,
        window: DateWindow,
        context: FetchContext,
        cursor: str | None,
    ) -> MovementsPage:
        try:
            backend = self._data_backend(session)
            found = next((a for a in backend.iter_accounts() if a.id == account.bank_id), None)
            if found is None:
                raise AccountFailed(account.bank_id, "the bank no longer lists this account")
            history = list(backend.iter_history(found))
            coming = self._coming(backend, found)
            renewed = self._session(backend, session["login"])
        except Exception as e:
            raise translate(e) from None
        movements = self._movements(history, coming, account, window)
        # woob hands over the whole history at once: one page.
        return MovementsPage(movements=movements, session=renewed)

    @staticmethod
    def _coming(backend, account: Account) -> list[Transaction]:
        try:
            return list(backend.iter_coming(account))
        except NotImplementedError:
            return []

    # --- mapping ---------------------------------------------------------------------------

    @staticmethod
    def _account(account: Account, login: str, default_currency: str) -> BankAccount:
        currency = account.currency if not empty(account.currency) else default_currency
        balance = minor_units(account.balance, currency) if not empty(account.balance) else 0
        return BankAccount(
            bank_id=account.id,
            name=account.label or account.id,
            official_name=account.label or account.id,
            number=account.number if not empty(account.number) else account.id,
            holder_id=re.sub(r"[.\-\s]", "", login),
            holder_name=_holder_name(account),
            account_type=ACCOUNT_TYPES.get(account.type, "checking_account"),  # type: ignore[arg-type]
            currency=currency,
            balance_available=balance,
            balance_current=balance,
            balance_limit=balance,
        )

    @staticmethod
    def _movements(
        history: Iterable[Transaction], coming: Iterable[Transaction], account: BankAccount, window: DateWindow
    ) -> list[BankMovement]:
        seen: set[str] = set()
        out = []
        for tr, pending in [(t, False) for t in history] + [(t, True) for t in coming]:
            day = tr.date.date() if isinstance(tr.date, datetime) else tr.date
            if not isinstance(day, date) or day not in window:
                continue
            bank_id = tr.id if not empty(tr.id) and tr.id else tr.unique_id(seen, account_id=account.bank_id)
            if bank_id in seen and not empty(tr.id) and tr.id:
                raise OtherError(f"the module gave two transactions the id {bank_id!r}")
            seen.add(bank_id)
            pending = pending or bool(tr.coming)
            kind = {Transaction.TYPE_TRANSFER: "transfer", Transaction.TYPE_CHECK: "check"}.get(tr.type, "other")
            out.append(
                BankMovement(
                    bank_id=bank_id,
                    amount=minor_units(tr.amount, account.currency),
                    currency=account.currency,
                    description=(tr.label if not empty(tr.label) else tr.raw) or "",
                    post_date=day,
                    movement_type=kind,  # type: ignore[arg-type]
                    status="pending" if pending else "confirmed",
                    pending=pending,
                )
            )
        out.sort(key=lambda m: m.post_date, reverse=True)
        return out


def _holder_name(account: Account) -> str:
    party = getattr(account, "party", None)
    if empty(party) or party is None:
        return ""
    names = [p.full_name for p in party.party_identities if not empty(p.full_name) and p.full_name]
    return names[0] if names else ""


def _institution(text: str) -> Institution:
    parts = text.split(":")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("expected ID:NAME:COUNTRY:CURRENCY")
    return Institution(id=parts[0], name=parts[1], country=parts[2], currency=parts[3])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a woob CapBank module as a Refresco connector.")
    parser.add_argument("--module", required=True, help="the woob module's name")
    parser.add_argument("--modules-path", help="directory holding the module (else woob's own)")
    parser.add_argument("--institution", required=True, type=_institution, help="ID:NAME:COUNTRY:CURRENCY")
    parser.add_argument("--param", action="append", default=[], help="KEY=VALUE for the module's config")
    args, rest = parser.parse_known_args(argv)
    params = dict(p.split("=", 1) for p in args.param)
    connector = WoobBankConnector(args.module, args.institution, modules_path=args.modules_path, params=params)
    serve(connector, rest)


if __name__ == "__main__":
    main()
