"""The connector: the four protocol calls, each a short visit to the bank's site.

The session Refresco keeps for us is the site's cookies (and, while the SMS code is awaited,
the SMS form's CSRF token): never the password. Every call rebuilds an httpx client from it,
so any process of this connector can continue any login.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from refresco_connector import (
    ActionNeeded,
    BankAccount,
    BankMovement,
    Connector,
    Credentials,
    CredentialsLocked,
    DateWindow,
    FetchContext,
    Institution,
    InvalidCredentials,
    LoggedIn,
    LoginResult,
    MfaAnswer,
    MfaChallenge,
    MfaCode,
    MfaExpired,
    MfaRequired,
    MovementsPage,
    OtherError,
    Session,
    SessionExpired,
    TransferAccount,
    Unavailable,
    WrongMfaCode,
)

from . import parse

INSTITUTION = Institution(id="cl_banco_falso", name="Banco Falso", country="cl", currency="CLP")
# A real bank is slow at times; past this it counts as down (`unavailable`, retried later).
TIMEOUT = httpx.Timeout(20.0)


class FakeBankConnector(Connector):
    institutions = [INSTITUTION]

    def __init__(self, bank_url: str | None = None) -> None:
        self.bank_url = bank_url or os.environ.get("FAKEBANK_URL", "http://127.0.0.1:8000")

    # --- the site ------------------------------------------------------------------------

    def _client(self, session: Session | None = None) -> httpx.Client:
        cookies = (session or {}).get("cookies", {})
        return httpx.Client(
            base_url=self.bank_url, cookies=cookies, timeout=TIMEOUT, follow_redirects=True, trust_env=False
        )

    @staticmethod
    def _visit(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; the bank being down or slow is `unavailable`, not our bug."""
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise Unavailable("the bank did not answer in time") from None
        except httpx.TransportError as e:
            raise Unavailable(f"the bank is unreachable ({type(e).__name__})") from None
        if response.status_code >= 500:
            raise Unavailable(f"the bank answered {response.status_code}")
        return response

    @staticmethod
    def _cookies(client: httpx.Client) -> dict[str, str]:
        return {name: value for name, value in client.cookies.items()}

    def _signed_in_page(self, client: httpx.Client, path: str, **params: Any) -> str:
        response = self._visit(client, "GET", path, params=params)
        if response.url.path == "/login":
            raise SessionExpired("the bank's session expired")
        if response.url.path == "/aviso":
            raise ActionNeeded("the bank asks the holder to accept new terms")
        return response.text

    # --- the protocol ----------------------------------------------------------------------

    def login(self, institution_id: str, credentials: Credentials) -> LoginResult:
        with self._client() as client:
            form = self._visit(client, "GET", "/login")
            data = {
                "csrf_token": parse.csrf_token(form.text),
                "rut": credentials.username,
                "clave": credentials.password.get_secret_value(),
            }
            page = self._visit(client, "POST", "/login", data=data)
            path = page.url.path
            if path == "/sms":
                session = {"cookies": self._cookies(client), "csrf": parse.csrf_token(page.text)}
                challenge = MfaChallenge(kind="sms", session=session, hint=parse.sms_hint(page.text))
                return MfaRequired(challenge=challenge)
            if path == "/aviso":
                raise ActionNeeded("the bank asks the holder to accept new terms")
            if path == "/cuentas":
                return LoggedIn(session={"cookies": self._cookies(client)})
            self._refusal(page.text)
            raise OtherError(f"unexpected page after login: {path}")

    @staticmethod
    def _refusal(html: str) -> None:
        found = parse.alert(html)
        if found is None:
            return
        kind, _ = found
        if kind == "locked":
            raise CredentialsLocked("the bank locked the credentials")
        if kind == "error":
            raise InvalidCredentials("the bank refused the RUT or password")

    def answer_mfa(self, institution_id: str, challenge: MfaChallenge, answer: MfaAnswer) -> Session:
        if not isinstance(answer, MfaCode):
            raise WrongMfaCode("Banco Falso asks for the SMS code, not an app approval")
        with self._client(challenge.session) as client:
            data = {"csrf_token": challenge.session.get("csrf", ""), "codigo": answer.code}
            page = self._visit(client, "POST", "/sms", data=data)
            if page.url.path == "/cuentas":
                return {"cookies": self._cookies(client)}
            kind, text = parse.alert(page.text) or ("", "")
            if kind == "expired":
                raise MfaExpired("the SMS code expired")
            if kind == "error" and "Le quedan" in text:
                left = int("".join(ch for ch in text.split("Le quedan")[1] if ch.isdigit()) or 0)
                raise WrongMfaCode("the bank refused the code", attempts_left=left)
            raise OtherError(f"unexpected page after the SMS code: {page.url.path}")

    def list_accounts(self, institution_id: str, session: Session, context: FetchContext) -> list[BankAccount]:
        with self._client(session) as client:
            holder, rows = parse.accounts(self._signed_in_page(client, "/cuentas"))
        return [
            BankAccount(
                bank_id=row.number,
                name=row.kind,
                official_name=f"{row.kind} Banco Falso",
                number=row.number,
                holder_id=holder.rut.replace(".", "").replace("-", ""),
                holder_name=holder.name,
                account_type=parse.ACCOUNT_TYPES.get(row.kind, "checking_account"),  # type: ignore[arg-type]
                currency="CLP",
                balance_available=row.balance,
                balance_current=row.balance,
                balance_limit=row.available,
            )
            for row in rows
        ]

    def fetch_movements(
        self,
        institution_id: str,
        session: Session,
        account: BankAccount,
        window: DateWindow,
        context: FetchContext,
        cursor: str | None,
    ) -> MovementsPage:
        # One protocol page per page of the bank's table: the cursor is the bank's page number.
        page_no = int(cursor or 1)
        with self._client(session) as client:
            html = self._signed_in_page(
                client,
                f"/cuentas/{account.bank_id}/movimientos",
                desde=window.since.isoformat(),
                hasta=window.until.isoformat(),
                pagina=page_no,
            )
        rows, more = parse.movements(html)
        return MovementsPage(
            movements=[_movement(row) for row in rows if row.day in window],
            next_cursor=str(page_no + 1) if more else None,
        )


def _movement(row: parse.MovementRow) -> BankMovement:
    transfer = row.description.startswith(("Traspaso de:", "Pago a:"))
    counterpart = TransferAccount(holder_name=row.description.split(":", 1)[1].strip()) if transfer else None
    return BankMovement(
        bank_id=row.operation,
        amount=row.amount,
        currency="CLP",
        description=row.description,
        post_date=row.day,
        movement_type="transfer" if transfer else "other",
        status="pending" if row.pending else "confirmed",
        pending=row.pending,
        reference_id=row.operation,
        sender_account=counterpart if row.amount > 0 else None,
        recipient_account=counterpart if row.amount < 0 else None,
    )
