from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EXAMPLES))


@pytest.fixture(scope="session")
def bank_url():
    """One Banco Falso process for the session, on a free port, stopped with the tests."""
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
