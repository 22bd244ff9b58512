"""The site's routes. State lives in memory: restart the process (or POST /_control/reset)
for a fresh bank."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import secrets
from dataclasses import asdict, dataclass
from datetime import date
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import pages
from .control import Control
from .data import MFA_ATTEMPTS, SMS_CODE, Bank, User

PAGE_SIZE = 10
SESSION_COOKIE = "fb_session"
CSRF_COOKIE = "fb_csrf"


@dataclass
class WebSession:
    rut: str
    stage: str  # "sms" (waiting for the code), "action" (must accept terms), "in"
    csrf: str
    attempts_left: int = MFA_ATTEMPTS


class FakeBank:
    def __init__(self) -> None:
        self.bank = Bank()
        self.sessions: dict[str, WebSession] = {}
        self.control = Control(self._reset)

    def _reset(self) -> None:
        self.bank = Bank()
        self.sessions.clear()

    # --- helpers ---------------------------------------------------------------------------

    def session(self, request: Request) -> WebSession | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))

    def signed_in(self, request: Request) -> tuple[WebSession, User] | Response:
        """The session's user, or the redirect a real site answers with when there is none."""
        session = self.session(request)
        if session is None:
            return RedirectResponse("/login?expirada=1", status_code=303)
        if session.stage == "sms":
            return RedirectResponse("/sms", status_code=303)
        if session.stage == "action":
            return RedirectResponse("/aviso", status_code=303)
        return session, self.bank.users[session.rut]

    @staticmethod
    async def form(request: Request) -> dict[str, str]:
        fields = parse_qs((await request.body()).decode(), keep_blank_values=True)
        return {k: v[0] for k, v in fields.items()}

    @staticmethod
    def window(request: Request) -> tuple[date, date]:
        q = request.query_params
        since = date.fromisoformat(q.get("desde", "1970-01-01"))
        until = date.fromisoformat(q.get("hasta", "9999-12-31"))
        return since, until

    # --- pages -----------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        csrf = secrets.token_urlsafe(16)
        note = "Su sesión expiró. Ingrese nuevamente." if "expirada" in request.query_params else ""
        response = HTMLResponse(pages.login_form(csrf, note))
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        return response

    async def login(self, request: Request) -> Response:
        self.control.attempts += 1
        form = await self.form(request)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(form.get("csrf_token", ""), cookie):
            return HTMLResponse(pages.message("Error", "Solicitud inválida.", "error"), status_code=403)
        user = self.bank.users.get(form.get("rut", "").strip())
        if user is None or not secrets.compare_digest(form.get("clave", ""), user.password):
            return HTMLResponse(pages.login_form(cookie, "RUT o clave incorrectos."))
        if user.locked or user.rut in self.control.faults.lock:
            text = "Su clave está bloqueada. Llame al 600 600 0000 para desbloquearla."
            return HTMLResponse(pages.message("Clave bloqueada", text, "locked"))
        self.control.logins += 1
        if self.control.faults.change_every_visit:
            self.bank.mutate()
        stage = "sms" if user.sms else "action" if user.needs_action else "in"
        token = secrets.token_urlsafe(24)
        self.sessions[token] = WebSession(user.rut, stage, secrets.token_urlsafe(16))
        response = RedirectResponse({"sms": "/sms", "action": "/aviso", "in": "/cuentas"}[stage], status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
        return response

    async def sms_page(self, request: Request) -> Response:
        session = self.session(request)
        if session is None or session.stage != "sms":
            return RedirectResponse("/login?expirada=1", status_code=303)
        user = self.bank.users[session.rut]
        return HTMLResponse(pages.sms_form(session.csrf, user.phone))

    async def sms(self, request: Request) -> Response:
        session = self.session(request)
        form = await self.form(request)
        if session is None or session.stage != "sms":
            text = "La clave dinámica expiró. Ingrese nuevamente."
            return HTMLResponse(pages.message("Clave dinámica expirada", text, "expired"))
        if not secrets.compare_digest(form.get("csrf_token", ""), session.csrf):
            return HTMLResponse(pages.message("Error", "Solicitud inválida.", "error"), status_code=403)
        if form.get("codigo", "").strip() != SMS_CODE:
            session.attempts_left -= 1
            if session.attempts_left <= 0:
                self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
                text = "La clave dinámica expiró. Ingrese nuevamente."
                return HTMLResponse(pages.message("Clave dinámica expirada", text, "expired"))
            user = self.bank.users[session.rut]
            error = f"Código incorrecto. Le quedan {session.attempts_left} intentos."
            return HTMLResponse(pages.sms_form(session.csrf, user.phone, error))
        session.stage = "in"
        return RedirectResponse("/cuentas", status_code=303)

    async def notice(self, request: Request) -> Response:
        text = "Debe aceptar los nuevos términos y condiciones antes de continuar."
        return HTMLResponse(pages.message("Aviso importante", text, "action"))

    async def accounts(self, request: Request) -> Response:
        found = self.signed_in(request)
        if isinstance(found, Response):
            return found
        _, user = found
        return HTMLResponse(pages.accounts(user, self.control.faults.layout))

    async def movements(self, request: Request) -> Response:
        found = self.signed_in(request)
        if isinstance(found, Response):
            return found
        _, user = found
        account = self.bank.account(user, request.path_params["number"])
        if account is None:
            return HTMLResponse(pages.message("Error", "Cuenta no encontrada.", "error"), status_code=404)
        since, until = self.window(request)
        moves = [m for m in account.movements if since <= m.day <= until]
        if request.path_params.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out, delimiter=";")
            writer.writerow(["fecha", "descripcion", "operacion", "monto", "estado"])
            for m in moves:
                state = "pendiente" if m.pending else "contabilizado"
                writer.writerow([m.day.isoformat(), m.description, m.operation, m.amount, state])
            return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
        pages_total = max(1, math.ceil(len(moves) / PAGE_SIZE))
        page_no = min(max(1, int(request.query_params.get("pagina", "1"))), pages_total)
        shown = moves[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
        query = urlencode({"desde": since.isoformat(), "hasta": until.isoformat()})
        return HTMLResponse(pages.movements(account, shown, page_no, pages_total, query))

    async def logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        return RedirectResponse("/login", status_code=303)

    async def mutate(self, _: Request) -> Response:
        self.bank.mutate()
        return JSONResponse({"mutations": self.bank.mutations})

    async def state(self, _: Request) -> Response:
        return JSONResponse(
            {
                "faults": asdict(self.control.faults),
                "attempts": self.control.attempts,
                "logins": self.control.logins,
                "mutations": self.bank.mutations,
            }
        )

    # --- faults ----------------------------------------------------------------------------

    def app(self) -> ASGIApp:
        routes = [
            Route("/", lambda _: RedirectResponse("/login"), methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/sms", self.sms_page, methods=["GET"]),
            Route("/sms", self.sms, methods=["POST"]),
            Route("/aviso", self.notice, methods=["GET"]),
            Route("/cuentas", self.accounts, methods=["GET"]),
            Route("/cuentas/{number}/movimientos", self.movements, methods=["GET"]),
            Route("/cuentas/{number}/movimientos.{format:str}", self.movements, methods=["GET"]),
            Route("/logout", self.logout, methods=["GET"]),
            Route("/_control/faults", self.control.set_faults, methods=["POST"]),
            Route("/_control/mutate", self.mutate, methods=["POST"]),
            Route("/_control/reset", self.control.reset, methods=["POST"]),
            Route("/_control/state", self.state, methods=["GET"]),
        ]
        site = Starlette(routes=routes)

        async def with_faults(scope: Scope, receive: Receive, send: Send) -> None:  # ASGI middleware
            if scope["type"] == "http" and not scope["path"].startswith("/_control"):
                faults = self.control.faults
                if faults.slow_ms:
                    await asyncio.sleep(faults.slow_ms / 1000)
                if faults.fail_next > 0:
                    faults.fail_next -= 1
                    text = "Servicio no disponible. Intente más tarde."
                    error = HTMLResponse(pages.message("Error", text, "error"), status_code=500)
                    return await error(scope, receive, send)
            await site(scope, receive, send)

        return with_faults
