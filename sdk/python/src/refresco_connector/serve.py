"""Running a connector as a process: `serve(MyConnector())` behind `if __name__ == "__main__"`.

    REFRESCO_CONNECTOR_TOKEN=... python -m my_connector --listen 127.0.0.1:7000

The token comes from the environment, not a flag, so it never shows in the process list.
The first line on stdout is `serving <name> on http://HOST:PORT` (the real port when asked
for port 0), for scripts and tests that start the connector and need its address.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
from typing import Sequence

import uvicorn

from .connector import Connector
from .redaction import RedactingFilter
from .server import app

TOKEN_ENV = "REFRESCO_CONNECTOR_TOKEN"


def configure_logging(level: int = logging.INFO) -> None:
    """Logs to stderr, with the current call's secrets masked in every line (also those of
    libraries the connector uses). Call it yourself when serving `app()` another way."""
    root = logging.getLogger()
    if not root.handlers:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(stderr)
    root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def serve(connector: Connector, argv: Sequence[str] | None = None) -> None:
    """Parses the command line and serves `connector` until SIGINT/SIGTERM (or, with
    `--exit-with-stdin`, until standard input closes)."""
    name = type(connector).__name__
    parser = argparse.ArgumentParser(description=f"Serve {name} over Refresco's connector protocol.")
    parser.add_argument(
        "--listen",
        type=_address,
        default=("127.0.0.1", 7000),
        help="HOST:PORT to listen on; port 0 picks a free one (default 127.0.0.1:7000)",
    )
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes (a test keeps the other end open)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        parser.error(f"set {TOKEN_ENV} to the bearer token Refresco will present")
    configure_logging(getattr(logging, args.log_level.upper(), logging.INFO))

    host, port = args.listen
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    bound = sock.getsockname()[1]
    # Listening before saying where: a caller may connect the moment it reads the address,
    # before uvicorn's loop starts accepting (the kernel queues it meanwhile).
    sock.listen(128)

    config = uvicorn.Config(
        app(connector, token),
        log_config=None,  # ours, with redaction; uvicorn's access log is replaced by ours
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    if args.exit_with_stdin:
        threading.Thread(target=_exit_on_eof, args=(server,), daemon=True).start()
    print(f"serving {name} on http://{host}:{bound}", flush=True)
    server.run(sockets=[sock])


def _exit_on_eof(server: uvicorn.Server) -> None:
    for _ in sys.stdin:
        pass
    server.should_exit = True
