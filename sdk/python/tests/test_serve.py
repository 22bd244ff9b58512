"""The connector as a process: it says where it listens, logs each call without its secrets,
and stops when its standard input closes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from toybank import PASSWORD, SMS_CODE

TOKEN = "process-token-abcdef0123"


@pytest.fixture
def process():
    env = {**os.environ, "REFRESCO_CONNECTOR_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1"}
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "serve_toybank.py")]
        + ["--listen", "127.0.0.1:0", "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def url_of(child: subprocess.Popen) -> str:
    line = child.stdout.readline()
    assert line.startswith("serving ToyBank on http://127.0.0.1:"), line
    return line.split()[-1]


def test_logs_hold_no_password_code_or_session(process) -> None:
    url = url_of(process)
    headers = {"Authorization": f"Bearer {TOKEN}", "Refresco-Connector-Protocol": "1"}
    with httpx.Client(base_url=url, headers=headers, trust_env=False) as http:

        def login(username: str) -> httpx.Response:
            return http.post(
                "/login",
                json={
                    "institution_id": "cl_toy",
                    "credentials": {"username": username, "password": PASSWORD, "holder_type": "individual"},
                },
            )

        assert login("ada").json()["session"] == {"cookie": "sess-ada"}
        # This one logs the password and raises with it: the SDK must mask both.
        assert login("crash").status_code == 500
        challenge = login("mfa").json()["challenge"]
        done = http.post(
            "/mfa",
            json={"institution_id": "cl_toy", "challenge": challenge, "answer": {"code": SMS_CODE}},
        )
        assert done.status_code == 200

    process.stdin.close()
    assert process.wait(timeout=10) == 0, "the connector did not stop when its stdin closed"
    logs = process.stderr.read()
    # The calls were logged, and the careless scraper's lines were there, masked.
    assert "POST /login -> 200" in logs
    assert "POST /mfa -> 200" in logs
    assert "logging in with [redacted]" in logs
    assert "bank said no to [redacted]" in logs
    for secret in (PASSWORD, SMS_CODE, "sess-ada", "sess-mfa"):
        assert secret not in logs, f"{secret!r} is in the connector's logs:\n{logs}"


def test_it_needs_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REFRESCO_CONNECTOR_TOKEN"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "serve_toybank.py"), "--listen", "127.0.0.1:0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "REFRESCO_CONNECTOR_TOKEN" in done.stderr
