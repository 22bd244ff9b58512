"""The official Python client (fintoc 2.26.0, unmodified) over an organization's rate limit,
against a live Refresco whose limit is a few requests a second.

Environment: FINTOC_BASE_URL, FINTOC_SECRET_KEY. Prints one line per check and exits non-zero
on any failure.
"""

import os
import sys

from fintoc import Fintoc
from fintoc.errors import InvalidRequestError

client = Fintoc(os.environ["FINTOC_SECRET_KEY"])
client._client.base_url = os.environ["FINTOC_BASE_URL"]  # as the README shows

passed, failed = 0, 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


raised = None
answered = 0
for _ in range(50):
    try:
        client.links.list(lazy=False)
        answered += 1
    except InvalidRequestError as exc:
        raised = exc
        break
check("requests within the limit are answered", answered >= 1, answered)
check("over the limit the client raises InvalidRequestError", raised is not None, "no exception")
check("naming rate_limit_exceeded", raised is not None and "rate_limit_exceeded" in str(raised), str(raised))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
