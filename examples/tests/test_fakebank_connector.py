"""The fake bank's behaviours, seen through the connector that scrapes it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from fakebank.data import SMS_CODE, today
from fakebank_connector.connector import FakeBankConnector
from refresco_connector import (
    ActionNeeded,
    Credentials,
    CredentialsLocked,
    DateWindow,
    FetchContext,
    InvalidCredentials,
    LoggedIn,
    MfaCode,
    MfaExpired,
    MfaRequired,
    OtherError,
    SessionExpired,
    Unavailable,
    WrongMfaCode,
)

INST = "cl_banco_falso"
CONTEXT = FetchContext(today=today(), refresh_number=1)


def creds(rut: str, password: str) -> Credentials:
    return Credentials(username=rut, password=password, holder_type="individual")


def all_movements(connector, session, account, window):
    seen, cursor = [], None
    while True:
        page = connector.fetch_movements(INST, session, account, window, CONTEXT, cursor)
        seen += page.movements
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.fixture
def connector(bank_url) -> FakeBankConnector:
    return FakeBankConnector(bank_url)


def test_login_accounts_and_paged_movements(bank, connector) -> None:
    result = connector.login(INST, creds("11111111-1", "fakepass1"))
    assert isinstance(result, LoggedIn)
    assert "fakepass1" not in str(result.session)
    accounts = connector.list_accounts(INST, result.session, CONTEXT)
    assert [a.bank_id for a in accounts] == ["111111001", "111111002"]
    assert accounts[0].holder_id == "111111111"
    assert accounts[0].balance_current == 1_500_000
    assert accounts[0].balance_limit == 2_000_000
    window = DateWindow(since=today() - timedelta(days=90), until=today())
    moves = all_movements(connector, result.session, accounts[0], window)
    assert len(moves) > 10, "more than one page of the bank's table"
    assert len({m.bank_id for m in moves}) == len(moves)
    assert [m.post_date for m in moves] == sorted((m.post_date for m in moves), reverse=True)
    assert all(m.post_date in window for m in moves)
    assert any(m.amount < 0 for m in moves) and any(m.amount > 0 for m in moves)
    # The CSV export says the same as the HTML tables.
    csv = httpx.get(
        f"{connector.bank_url}/cuentas/111111001/movimientos.csv",
        params={"desde": window.since.isoformat(), "hasta": window.until.isoformat()},
        cookies=result.session["cookies"],
    ).text.splitlines()
    assert csv[0] == "fecha;descripcion;operacion;monto;estado"
    assert sorted(line.split(";")[2] for line in csv[1:]) == sorted(m.bank_id for m in moves)


def test_sms_code(bank, connector) -> None:
    result = connector.login(INST, creds("22222222-2", "fakepass2"))
    assert isinstance(result, MfaRequired)
    assert result.challenge.kind == "sms" and "4321" in (result.challenge.hint or "")
    with pytest.raises(WrongMfaCode) as wrong:
        connector.answer_mfa(INST, result.challenge, MfaCode(code="000000"))
    assert wrong.value.attempts_left == 2
    session = connector.answer_mfa(INST, result.challenge, MfaCode(code=SMS_CODE))
    assert len(connector.list_accounts(INST, session, CONTEXT)) == 2


def test_too_many_wrong_codes_expire_the_challenge(bank, connector) -> None:
    result = connector.login(INST, creds("22222222-2", "fakepass2"))
    for _ in range(2):
        with pytest.raises(WrongMfaCode):
            connector.answer_mfa(INST, result.challenge, MfaCode(code="000000"))
    with pytest.raises(MfaExpired):
        connector.answer_mfa(INST, result.challenge, MfaCode(code="000000"))


@pytest.mark.parametrize(
    "rut, password, error",
    [
        ("11111111-1", "wrong", InvalidCredentials),
        ("99999999-9", "fakepass1", InvalidCredentials),
        ("33333333-3", "fakepass3", CredentialsLocked),
        ("44444444-4", "fakepass4", ActionNeeded),
    ],
)
def test_refusals(bank, connector, rut, password, error) -> None:
    with pytest.raises(error):
        connector.login(INST, creds(rut, password))


def test_a_locked_switch_locks_a_user(bank, connector) -> None:
    bank.post("/_control/faults", json={"lock": ["11111111-1"]}).raise_for_status()
    with pytest.raises(CredentialsLocked):
        connector.login(INST, creds("11111111-1", "fakepass1"))


def test_500s_are_unavailable(bank, connector) -> None:
    bank.post("/_control/faults", json={"fail_next": 1}).raise_for_status()
    with pytest.raises(Unavailable):
        connector.login(INST, creds("11111111-1", "fakepass1"))
    assert isinstance(connector.login(INST, creds("11111111-1", "fakepass1")), LoggedIn)


def test_slow_pages_past_the_timeout_are_unavailable(bank, connector, monkeypatch) -> None:
    import fakebank_connector.connector as module

    monkeypatch.setattr(module, "TIMEOUT", httpx.Timeout(0.2))
    bank.post("/_control/faults", json={"slow_ms": 600}).raise_for_status()
    with pytest.raises(Unavailable):
        connector.login(INST, creds("11111111-1", "fakepass1"))


def test_a_changed_layout_is_other(bank, connector) -> None:
    session = connector.login(INST, creds("11111111-1", "fakepass1")).session
    bank.post("/_control/faults", json={"layout": "v2"}).raise_for_status()
    with pytest.raises(OtherError, match="layout"):
        connector.list_accounts(INST, session, CONTEXT)


def test_a_lost_session_is_session_expired(bank, connector) -> None:
    with pytest.raises(SessionExpired):
        connector.list_accounts(INST, {"cookies": {"fb_session": "gone"}}, CONTEXT)


def test_the_login_form_needs_its_csrf_token(bank, bank_url) -> None:
    with httpx.Client(base_url=bank_url, trust_env=False) as browser:
        browser.get("/login")
        answer = browser.post("/login", data={"rut": "11111111-1", "clave": "fakepass1"})
    assert answer.status_code == 403


def test_data_changes_new_modified_removed(bank, connector) -> None:
    session = connector.login(INST, creds("11111111-1", "fakepass1")).session
    account = connector.list_accounts(INST, session, CONTEXT)[0]
    window = DateWindow(since=today() - timedelta(days=90), until=today())
    before = {m.bank_id: m for m in all_movements(connector, session, account, window)}
    bank.post("/_control/mutate").raise_for_status()
    after = {m.bank_id: m for m in all_movements(connector, session, account, window)}
    new = after.keys() - before.keys()
    removed = before.keys() - after.keys()
    modified = {k for k in after.keys() & before.keys() if after[k] != before[k]}
    assert len(new) == 1 and len(removed) == 1 and len(modified) == 1


def test_data_that_changes_on_every_visit(bank, connector) -> None:
    bank.post("/_control/faults", json={"change_every_visit": True}).raise_for_status()
    window = DateWindow(since=today() - timedelta(days=90), until=today())
    seen = []
    for _ in range(2):
        session = connector.login(INST, creds("11111111-1", "fakepass1")).session
        account = connector.list_accounts(INST, session, CONTEXT)[0]
        seen.append({m.bank_id for m in all_movements(connector, session, account, window)})
    assert seen[0] != seen[1]
    assert bank.get("/_control/state").json()["mutations"] == 2
