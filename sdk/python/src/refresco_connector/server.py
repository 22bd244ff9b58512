"""Protocol v1 over HTTP (Starlette): authentication, request validation, errors, logs.

`app(connector, token)` is an ASGI app for any ASGI server; `serve` runs it with uvicorn.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import time
from typing import Any, Awaitable, Callable, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import redaction
from .connector import Connector
from .errors import ConnectorError
from .models import (
    PROTOCOL_VERSION,
    AccountsPage,
    AccountsRequest,
    ErrorBody,
    LoggedIn,
    LoginRequest,
    Manifest,
    MfaDone,
    MfaRequest,
    MfaRequired,
    MovementsPage,
    MovementsRequest,
)

log = logging.getLogger("refresco_connector")

VERSION_HEADER = "refresco-connector-protocol"
M = TypeVar("M", bound=BaseModel)


def _error(status: int, body: ErrorBody) -> JSONResponse:
    body_json = body.model_dump(exclude_none=True, by_alias=True)
    return JSONResponse({"error": body_json}, status_code=status)


def _refused(status: int, message: str) -> JSONResponse:
    return _error(status, ErrorBody(code="other", message=message))


def _json(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))


class _BadRequest(Exception):
    """A request that does not fit the protocol: answered `status` with what is wrong."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _validation_text(error: ValidationError) -> str:
    # Field paths and reasons only: pydantic can quote the input, which may be a password.
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in error.errors(include_input=False, include_url=False)
    ]
    return "; ".join(parts[:5])


async def _parse(request: Request, model: type[M]) -> M:
    try:
        raw = json.loads(await request.body())
    except ValueError:
        raise _BadRequest("the body is not JSON") from None
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise _BadRequest(_validation_text(e)) from None


async def _call(method: Callable[..., Any], *args: Any) -> Any:
    """Runs a connector method: `async def` ones on the loop, plain ones in a thread so a
    blocking scraper does not stall other calls."""
    if inspect.iscoroutinefunction(method):
        return await method(*args)
    result = await run_in_threadpool(method, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def _institution_check(connector: Connector, institution_id: str) -> None:
    if institution_id not in {i.id for i in connector.institutions}:
        raise _BadRequest(f"this connector does not serve {institution_id!r}", status=404)


Handler = Callable[[Request], Awaitable[Response]]


def app(connector: Connector, token: str) -> Starlette:
    """The protocol's five routes over `connector`, for callers presenting `token`."""
    if not token:
        raise ValueError("a connector needs a bearer token")
    expected = token.encode()
    manifest = Manifest(institutions=list(connector.institutions))

    async def get_manifest(_: Request) -> Response:
        return _json(manifest)

    async def login(request: Request) -> Response:
        body = await _parse(request, LoginRequest)
        _institution_check(connector, body.institution_id)
        redaction.add(body.credentials.password.get_secret_value())
        result = await _call(connector.login, body.institution_id, body.credentials)
        if not isinstance(result, (LoggedIn, MfaRequired)):
            raise TypeError(f"login returned {type(result).__name__}, not LoggedIn/MfaRequired")
        redaction.add(result.model_dump(mode="json"))
        return _json(result)

    async def mfa(request: Request) -> Response:
        body = await _parse(request, MfaRequest)
        _institution_check(connector, body.institution_id)
        redaction.add(body.challenge.session, getattr(body.answer, "code", None))
        session = await _call(connector.answer_mfa, body.institution_id, body.challenge, body.answer)
        redaction.add(session)
        return _json(MfaDone(session=session))

    async def accounts(request: Request) -> Response:
        body = await _parse(request, AccountsRequest)
        _institution_check(connector, body.institution_id)
        redaction.add(body.session)
        result = await _call(connector.list_accounts, body.institution_id, body.session, body.context)
        page = result if isinstance(result, AccountsPage) else AccountsPage(accounts=list(result))
        return _json(page)

    async def movements(request: Request) -> Response:
        body = await _parse(request, MovementsRequest)
        _institution_check(connector, body.institution_id)
        redaction.add(body.session)
        result = await _call(
            connector.fetch_movements,
            body.institution_id,
            body.session,
            body.account,
            body.window,
            body.context,
            body.cursor,
        )
        page = (
            result if isinstance(result, MovementsPage) else MovementsPage(movements=list(result))
        )
        return _json(page)

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            started = time.monotonic()
            # Secrets the handler meets are masked in every log line until the call ends.
            scope = redaction.scope()
            try:
                response = await _answer(handler, request)
            finally:
                redaction.forget(scope)
            # One line a call: what, how it ended, how long. Never a body: bodies hold
            # credentials and sessions.
            log.info(
                "%s %s -> %d in %.0f ms",
                request.method,
                request.url.path,
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            return response

        return endpoint

    async def _answer(handler: Handler, request: Request) -> Response:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(presented.encode(), expected):
            return _refused(401, "wrong or missing bearer token")
        version = request.headers.get(VERSION_HEADER)
        if version is not None and version != str(PROTOCOL_VERSION):
            return _refused(400, f"this connector speaks protocol {PROTOCOL_VERSION}")
        try:
            return await handler(request)
        except _BadRequest as e:
            return _refused(e.status, str(e))
        except ConnectorError as e:
            log.info("%s: %s", request.url.path, e.code)
            body = e.body()
            # A message is the author's text and may quote what the bank echoed back: the
            # call's secrets are masked in it as in the logs.
            body.message = redaction.redact(body.message)
            return _error(e.status, body)
        except ValidationError as e:
            # The connector returned something that breaks the protocol: its bug, told to
            # its author in the log, and to Refresco as `other`.
            log.error("%s returned an invalid answer: %s", request.url.path, _validation_text(e))
            return _refused(500, "the connector returned an invalid answer")
        except Exception:
            log.exception("%s failed", request.url.path)
            return _refused(500, "the connector failed unexpectedly")

    routes = [
        Route("/manifest", guarded(get_manifest), methods=["GET"]),
        Route("/login", guarded(login), methods=["POST"]),
        Route("/mfa", guarded(mfa), methods=["POST"]),
        Route("/accounts", guarded(accounts), methods=["POST"]),
        Route("/movements", guarded(movements), methods=["POST"]),
    ]
    # Outside the protocol's paths, still the protocol's error shape.
    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _refused(status, f"no {request.method} {request.url.path} in protocol {PROTOCOL_VERSION}")

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})

