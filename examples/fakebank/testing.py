"""pytest fixtures for tests that need Banco Falso running: `from fakebank.testing import
bank, bank_url` in a conftest.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bank_url():
    """One Banco Falso process for the session, on a free port, stopped with the tests (it
    exits when its standard input closes, even if pytest is killed)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "fakebank", "--listen", "127.0.0.1:0", "--exit-with-stdin"],
        cwd=EXAMPLES,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()
    assert line.startswith("fakebank on http://127.0.0.1:"), line
    try:
        yield line.split()[-1]
    finally:
        child.stdin.close()
        child.wait(timeout=10)


@pytest.fixture
def bank(bank_url):
    """The bank's control switches, reset before and after each test."""
    with httpx.Client(base_url=bank_url, trust_env=False) as control:
        control.post("/_control/reset").raise_for_status()
        yield control
        control.post("/_control/reset").raise_for_status()
