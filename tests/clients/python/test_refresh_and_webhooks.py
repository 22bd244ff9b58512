"""The official Python client (fintoc 2.26.0, unmodified) on refresh intents and webhook
signatures, against a live Refresco.

Environment: FINTOC_BASE_URL, FINTOC_SECRET_KEY, FINTOC_LINK_TOKEN (a link just created, whose
first history may still run, and whose bank is slow enough that a refresh stays in progress
for a moment), FINTOC_REJECTED_LINK_TOKEN (a link whose next refresh the bank rejects),
FINTOC_WEBHOOK_BODY_FILE (the exact body
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


def wait_final(intent_id, token=TOKEN):
    deadline = time.time() + 60
    while time.time() < deadline:
        intent = client.refresh_intents.get(intent_id, link_token=token)
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

# 7. Reconnecting: the bank refuses a link's credentials; new ones reconnect it in place.
REJECTED = os.environ["FINTOC_REJECTED_LINK_TOKEN"]
refused = wait_final(client.refresh_intents.create(link_token=REJECTED).id, REJECTED)
check("the refresh is rejected", refused.status == "rejected", refused.status)
before = client.links.get(REJECTED)
check("the link needs its holder", before.status == "login_required", before.status)
try:
    client.refresh_intents.create(link_token=REJECTED)
    check("a refresh is refused until reconnected", False, "no exception")
except Exception as exc:  # the client's class for link errors varies by version
    check("a refresh is refused until reconnected", "rejected_refresh_intent" in str(exc), str(exc))
after = client.links.update(REJECTED, password="jonsnow")
check("reconnected in place", after.id == before.id and after.status == "active", f"{after.id} {after.status}")
again = wait_final(client.refresh_intents.create(link_token=REJECTED).id, REJECTED)
check("it refreshes again", again.status == "succeeded", again.status)
accounts = [a.id for a in client.links.get(REJECTED).accounts.list(lazy=False)]
check("the same accounts", accounts == [a.id for a in before.accounts.list(lazy=False)], accounts)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
