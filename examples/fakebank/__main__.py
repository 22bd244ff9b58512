"""`python -m fakebank --listen 127.0.0.1:0 [--exit-with-stdin]` (from examples/).

The first line on stdout is `fakebank on http://127.0.0.1:PORT`."""

from __future__ import annotations

import argparse
import socket
import sys
import threading

import uvicorn

from .app import FakeBank


def main() -> None:
    parser = argparse.ArgumentParser(description="Banco Falso, a bank website for scraper tests.")
    parser.add_argument("--listen", default="127.0.0.1:8000", help="HOST:PORT; port 0 picks one")
    parser.add_argument("--exit-with-stdin", action="store_true", help="stop when stdin closes")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    # Listening before saying where: a caller may connect the moment it reads the address,
    # before uvicorn's loop starts accepting (the kernel queues it meanwhile).
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(FakeBank().app(), lifespan="off", access_log=False, log_level="warning"))
    if args.exit_with_stdin:

        def stop_at_eof() -> None:
            for _ in sys.stdin:
                pass
            server.should_exit = True

        threading.Thread(target=stop_at_eof, daemon=True).start()
    print(f"fakebank on http://{host}:{sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
