"""`FAKEBANK_URL=http://127.0.0.1:8000 REFRESCO_CONNECTOR_TOKEN=... python -m fakebank_connector
--listen 127.0.0.1:7000` (from examples/)."""

from refresco_connector import serve

from .connector import FakeBankConnector

if __name__ == "__main__":
    serve(FakeBankConnector())
