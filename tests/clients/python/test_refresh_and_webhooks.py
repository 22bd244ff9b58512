"""The official Python client (fintoc 2.26.0, unmodified) on refresh intents and webhook
signatures, against a live Refresco.

Environment: FINTOC_BASE_URL, FINTOC_SECRET_KEY, FINTOC_LINK_TOKEN (a link just created, whose
first history may still run, and whose bank is slow enough that a refresh stays in progress
for a moment), FINTOC_WEBHOOK_BODY_FILE (the exact body
of a real delivery), FINTOC_WEBHOOK_HEADER (its Fintoc-Signature), FINTOC_WEBHOOK_SECRET.
Prints one line per check and exits non-zero on any failure.
"""

import os
import sys
import time

from fintoc import Fintoc
from fintoc.errors import InvalidRequestError, WebhookSignatureError
from fintoc.webhook import WebhookSignature

BASE = os.environ["FINTOC_BASE_URL"]
TOKEN = os.environ["FINTOC_LINK_TOKEN"]
client = Fintoc(os.environ["FINTOC_SECRET_KEY"])
client._client.base_url = BASE  # as the README shows (The official clients)

passed, failed = 0, 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def wait_final(intent_id):
    deadline = time.time() + 60
    while time.time() < deadline:
        intent = client.refresh_intents.get(intent_id, link_token=TOKEN)
        if intent.status != "created":
            return intent
        time.sleep(0.05)
    raise AssertionError(f"{intent_id} never finished")


# 0. A new link's movements come with its first history, a historical refresh intent that its
#    creation started: wait for it as an integration does, then read the movements.
history = client.refresh_intents.list(link_token=TOKEN, lazy=False)
check("a new link has one intent, its history",
      len(history) == 1 and history[0].type == "historical", [(i.id, i.type) for i in history])
history = wait_final(history[0].id)
check("the history succeeded with movements", history.status == "succeeded" and history.new_movements > 0,
      f"{history.status} {history.new_movements}")
account = client.links.get(TOKEN).accounts.list(lazy=False)[0]
movements = account.movements.list(lazy=False)
check("the account's movements are there", len(movements) > 0, len(movements))

# 1. Create with link_token in the JSON body.
first = client.refresh_intents.create(link_token=TOKEN, refresh_type="only_last")
check("create (body) answers created", first.status == "created", first.status)
check("create has an ri_ id", first.id.startswith("ri_"), first.id)
check("refreshed_object is the link", first.refreshed_object == "link", first.refreshed_object)

# 2. While it runs, a second create is refused with InvalidRequestError.
try:
    client.refresh_intents.create(link_token=TOKEN)
    check("in progress raises InvalidRequestError", False, "no exception")
except InvalidRequestError as exc:
    check("in progress raises InvalidRequestError", "refresh_intent_in_progress" in str(exc), str(exc))

# 3. Get until final.
done = wait_final(first.id)
check("get returns the intent", done.id == first.id, done.id)
check("it succeeded", done.status == "succeeded", done.status)

# 4. Create through a Link object: link_token in the query string.
link = client.links.get(TOKEN)
second = link.refresh_intents.create(refresh_type="historical")
check("create (query) answers created", second.status == "created" and second.type == "historical",
      f"{second.status} {second.type}")
wait_final(second.id)

# 5. List, newest first.
intents = client.refresh_intents.list(link_token=TOKEN, lazy=False)
check("list has all three, newest first", [i.id for i in intents] == [second.id, first.id, history.id],
      [i.id for i in intents])

# 6. A real delivery verifies; a tampered one does not.
with open(os.environ["FINTOC_WEBHOOK_BODY_FILE"], encoding="utf-8") as f:
    body = f.read()
header = os.environ["FINTOC_WEBHOOK_HEADER"]
secret = os.environ["FINTOC_WEBHOOK_SECRET"]
check("verify_header accepts a real delivery",
      WebhookSignature.verify_header(payload=body, header=header, secret=secret) is True)
try:
    WebhookSignature.verify_header(payload=body + " ", header=header, secret=secret)
    check("verify_header refuses a tampered body", False, "accepted")
except WebhookSignatureError:
    check("verify_header refuses a tampered body", True)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
