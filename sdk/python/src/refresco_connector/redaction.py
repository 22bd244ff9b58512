"""Keeps the secrets of the call being served out of every log line.

The server never logs bodies, but a connector's own code (or a library under it) may log an
exception whose text holds a password or a cookie. While a call is served, its password, its
MFA code and every string inside its session are registered here, and a logging filter
replaces them in any record before it is written.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Iterable

MASK = "[redacted]"
# Strings this short are too common to mask without garbling ordinary log text ("1", "cl").
_MIN_LEN = 4

_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "refresco_connector_secrets", default=()
)


def strings_in(value: Any) -> Iterable[str]:
    """Every string leaf of a JSON value (a session), keys excluded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def scope() -> contextvars.Token[tuple[str, ...]]:
    """Starts a call with no secrets; returns the token that `forget` takes at its end."""
    return _secrets.set(())


def add(*values: Any) -> None:
    """Adds the strings in `values` (passwords, codes, sessions) to the current call's
    secrets, until the call's `forget`."""
    found = {s for v in values for s in strings_in(v) if len(s) >= _MIN_LEN}
    # Longest first, so a secret that contains another is masked whole.
    merged = sorted(found | set(_secrets.get()), key=len, reverse=True)
    _secrets.set(tuple(merged))


def forget(token: contextvars.Token[tuple[str, ...]]) -> None:
    _secrets.reset(token)


def redact(text: str) -> str:
    for secret in _secrets.get():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks the current call's secrets in a record's message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets.get():
            return True
        message = redact(record.getMessage())
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.msg, record.args = message, None
        return True
