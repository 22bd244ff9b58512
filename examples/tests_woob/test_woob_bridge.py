"""The woob bridge on a real woob module (woob_modules/bancofalso) scraping Banco Falso."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from woob.browser.exceptions import BrowserTooManyRequests, ServerError
from woob.exceptions import (
    ActionNeeded,
    AuthMethodNotImplemented,
    BrowserIncorrectPassword,
    BrowserPasswordExpired,
    BrowserUnavailable,
    BrowserUserBanned,
    NeedInteractiveFor2FA,
)

from conftest import EXAMPLES
from fakebank.data import today
from refresco_connector import ActionNeeded as HolderActionNeeded
from refresco_connector import (
    Credentials,
    CredentialsLocked,
    DateWindow,
    FetchContext,
    Institution,
    InvalidCredentials,
    LoggedIn,
    MfaCode,
    MfaExpired,
    MfaRequired,
    SessionExpired,
    Unavailable,
    WrongMfaCode,
)
from refresco_connector.woob_bridge import WoobBankConnector, minor_units, translate

INST = Institution(id="cl_banco_falso_woob", name="Banco Falso (woob)", country="cl", currency="CLP")
CONTEXT = FetchContext(today=today(), refresh_number=1)
WINDOW = DateWindow(since=today() - timedelta(days=90), until=today())


@pytest.fixture
def bridge(bank_url) -> WoobBankConnector:
    return WoobBankConnector(
        "bancofalso", INST, modules_path=str(EXAMPLES / "woob_modules"), params={"url": bank_url}
    )


def creds(rut: str, password: str) -> Credentials:
    return Credentials(username=rut, password=password)


def test_accounts_and_movements(bank, bridge) -> None:
    result = bridge.login(INST.id, creds("11111111-1", "fakepass1"))
    assert isinstance(result, LoggedIn)
    assert "fakepass1" not in str(result.session)
    page = bridge.list_accounts(INST.id, result.session, CONTEXT)
    assert [a.bank_id for a in page.accounts] == ["111111001", "111111002"]
    first = page.accounts[0]
    assert (first.holder_name, first.holder_id, first.balance_current) == ("Ana Pérez", "111111111", 1_500_000)
    moves = bridge.fetch_movements(INST.id, page.session, first, WINDOW, CONTEXT, None)
    assert moves.next_cursor is None
    ids = [m.bank_id for m in moves.movements]
    assert len(ids) > 10 and len(set(ids)) == len(ids)
    assert all(i.startswith("111111001-") for i in ids), "the bank's operation numbers are the ids"
    assert [m.post_date for m in moves.movements] == sorted((m.post_date for m in moves.movements), reverse=True)
    assert any(m.amount < 0 for m in moves.movements) and any(m.amount > 0 for m in moves.movements)


def test_sms_code_through_woob_questions(bank, bridge) -> None:
    result = bridge.login(INST.id, creds("22222222-2", "fakepass2"))
    assert isinstance(result, MfaRequired)
    assert result.challenge.kind == "sms"
    assert result.challenge.hint == "+56 9 **** 4321"
    assert "fakepass2" not in str(result.challenge.session)
    with pytest.raises(WrongMfaCode):
        bridge.answer_mfa(INST.id, result.challenge, MfaCode(code="000000"))
    session = bridge.answer_mfa(INST.id, result.challenge, MfaCode(code="123456"))
    assert len(bridge.list_accounts(INST.id, session, CONTEXT).accounts) == 2


def test_too_many_wrong_codes_is_mfa_expired(bank, bridge) -> None:
    result = bridge.login(INST.id, creds("22222222-2", "fakepass2"))
    for _ in range(2):
        with pytest.raises(WrongMfaCode):
            bridge.answer_mfa(INST.id, result.challenge, MfaCode(code="000000"))
    with pytest.raises(MfaExpired):
        bridge.answer_mfa(INST.id, result.challenge, MfaCode(code="000000"))


@pytest.mark.parametrize(
    "rut, password, error",
    [
        ("11111111-1", "wrong", InvalidCredentials),
        ("33333333-3", "fakepass3", CredentialsLocked),
        ("44444444-4", "fakepass4", HolderActionNeeded),
    ],
)
def test_refusals(bank, bridge, rut, password, error) -> None:
    with pytest.raises(error):
        bridge.login(INST.id, creds(rut, password))


def test_bank_500s_are_unavailable(bank, bridge) -> None:
    bank.post("/_control/faults", json={"fail_next": 1}).raise_for_status()
    with pytest.raises(Unavailable):
        bridge.login(INST.id, creds("11111111-1", "fakepass1"))


def test_a_lost_session_is_session_expired_without_logging_in_again(bank, bridge) -> None:
    session = bridge.login(INST.id, creds("11111111-1", "fakepass1")).session
    assert bank.get("/_control/state").json()["logins"] == 1
    bank.post("/_control/reset").raise_for_status()  # the bank forgets every session
    with pytest.raises(SessionExpired):
        bridge.list_accounts(INST.id, session, CONTEXT)
    # woob's need_login would have posted the login form again, with no password.
    assert bank.get("/_control/state").json()["attempts"] == 0


def test_changed_data_keeps_ids_of_modified_movements(bank, bridge) -> None:
    session = bridge.login(INST.id, creds("11111111-1", "fakepass1")).session
    account = bridge.list_accounts(INST.id, session, CONTEXT).accounts[0]
    before = {m.bank_id: m for m in bridge.fetch_movements(INST.id, session, account, WINDOW, CONTEXT, None).movements}
    bank.post("/_control/mutate").raise_for_status()
    after = {m.bank_id: m for m in bridge.fetch_movements(INST.id, session, account, WINDOW, CONTEXT, None).movements}
    assert len(after.keys() - before.keys()) == 1
    assert len(before.keys() - after.keys()) == 1
    assert len([k for k in after.keys() & before.keys() if after[k] != before[k]]) == 1


@pytest.mark.parametrize(
    "error, code",
    [
        (BrowserIncorrectPassword("no"), "invalid_credentials"),
        (BrowserUserBanned("banned"), "credentials_locked"),
        (ActionNeeded("accept the terms"), "action_needed"),
        (BrowserPasswordExpired("change it"), "password_expired"),
        (AuthMethodNotImplemented("no such login"), "support_required"),
        (NeedInteractiveFor2FA(), "support_required"),
        (BrowserUnavailable("maintenance"), "unavailable"),
        (BrowserTooManyRequests("slow down"), "rate_limited"),
        (ServerError("502", response=None), "unavailable"),
        (requests.ConnectionError("refused"), "unavailable"),
        (KeyError("a scraper bug"), "other"),
    ],
)
def test_woob_exceptions_map_to_protocol_codes(error: Exception, code: str) -> None:
    translated = translate(error)
    assert translated.code == code
    # Every answer says whose the failure is, as the protocol's reference gives for its code.
    assert translated.body().model_dump(by_alias=True)["class"] == CLASSES[code]


CLASSES = {
    "invalid_credentials": "person",
    "credentials_locked": "person",
    "action_needed": "person",
    "password_expired": "person",
    "support_required": "connector",
    "unavailable": "transient",
    "rate_limited": "transient",
    "other": "connector",
}


def test_amounts_become_exact_smallest_units() -> None:
    assert minor_units(Decimal("-12000"), "CLP") == -12000
    assert minor_units(Decimal("12.34"), "USD") == 1234
    with pytest.raises(Exception):
        minor_units(Decimal("12.345"), "USD")
    with pytest.raises(Exception):
        minor_units(Decimal("0.5"), "CLP")
