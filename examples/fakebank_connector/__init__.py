"""A Refresco connector for Banco Falso (examples/fakebank), written with the SDK: it scrapes
the bank's website over HTTP with httpx and selectolax, as a connector for a real bank would.
The tutorial in docs/connectors.md walks through it."""
