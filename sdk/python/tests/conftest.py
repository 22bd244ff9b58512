from __future__ import annotations

import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from refresco_connector import app  # noqa: E402
from toybank import ToyBank  # noqa: E402

TOKEN = "test-token-0123456789"


@pytest.fixture
def client() -> TestClient:
    c = TestClient(app(ToyBank(), TOKEN), raise_server_exceptions=False)
    c.headers.update({"Authorization": f"Bearer {TOKEN}", "Refresco-Connector-Protocol": "1"})
    return c
