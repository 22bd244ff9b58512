"""The switches a test flips over HTTP, on `/_control` (no auth: the bank binds 127.0.0.1).

    POST /_control/faults   {"slow_ms": 800, "fail_next": 2, "layout": "v2",
                             "lock": ["11111111-1"], "change_every_visit": true}
    POST /_control/mutate   one round of changes now (new, modified, removed movements)
    POST /_control/reset    everything back to the start
    GET  /_control/state    the switches, and the login attempts, logins and mutations so far
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse


@dataclass
class Faults:
    slow_ms: int = 0  # every page waits this long first
    fail_next: int = 0  # the next N pages answer 500
    layout: str = "v1"  # "v2": the redesigned site, which the scrapers do not know
    change_every_visit: bool = False  # each successful login mutates the data first
    lock: list[str] = field(default_factory=list)  # more users whose access is locked


class Control:
    def __init__(self, reset) -> None:  # reset: () -> None, rebuilds the bank
        self.faults = Faults()
        self.logins = 0  # successful ones
        self.attempts = 0  # every POST of the login form
        self._reset = reset

    async def set_faults(self, request: Request) -> JSONResponse:
        body = await request.json()
        known = set(asdict(Faults()))
        unknown = set(body) - known
        if unknown:
            return JSONResponse({"error": f"unknown switches {sorted(unknown)}"}, status_code=400)
        for key, value in body.items():
            setattr(self.faults, key, value)
        return JSONResponse(asdict(self.faults))

    async def reset(self, _: Request) -> JSONResponse:
        self.faults = Faults()
        self.logins = 0
        self.attempts = 0
        self._reset()
        return JSONResponse({"reset": True})
