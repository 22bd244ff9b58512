#!/usr/bin/env python3
"""Drives the UNMODIFIED official Fintoc Python client (fintoc 2.26.0) against Refresco.

Every value the client returns is compared with what a raw HTTP call to the same server
returns (ids, counts from X-Total-Count, flags), so the script checks both that the client
can talk to the server and that it sees the right data.

Environment:
  FINTOC_BASE_URL           e.g. http://127.0.0.1:8080 (no trailing slash)
  FINTOC_SECRET_KEY         a test-mode secret key of the organization owning the links
  FINTOC_LINK_TOKEN         a link with at least one account holding more than 60 movements;
                            left active at the end
  FINTOC_DELETE_LINK_TOKEN  another link of the same organization; it is DELETED

The organization must have at least three links, so that listing them one per page follows
`next` at least twice. Exits 0 when every check passed, 1 otherwise (with the reasons).
"""

import datetime
from importlib.metadata import version
import json
import os
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request

# The client's httpx transport is created at import and honours proxy variables: never send
# loopback traffic to a proxy.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import httpx  # noqa: E402  (after the proxy clean-up on purpose)
from fintoc import Fintoc  # noqa: E402
from fintoc.errors import AuthenticationError, InvalidRequestError  # noqa: E402
from fintoc.resources import Account, Link, Movement  # noqa: E402


def env(name):
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"FAIL: environment variable {name} is required")
    return value


BASE = env("FINTOC_BASE_URL").rstrip("/")
KEY = env("FINTOC_SECRET_KEY")
LINK_TOKEN = env("FINTOC_LINK_TOKEN")
DELETE_LINK_TOKEN = env("FINTOC_DELETE_LINK_TOKEN")

_RAW = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class CheckFailed(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def equal(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


# --- raw HTTP, independent of the client ---------------------------------------------------


def raw(method, path_or_url, key=KEY, body=None):
    """Returns (status, headers, parsed JSON body or None)."""
    url = path_or_url if path_or_url.startswith("http") else BASE + path_or_url
    data = None
    request = urllib.request.Request(url, method=method)
    if key is not None:
        request.add_header("Authorization", key)
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with _RAW.open(request, data=data, timeout=30) as response:
            status, headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, error.headers, error.read()
    return status, headers, (json.loads(text) if text else None)


def raw_ok(path_or_url):
    status, headers, body = raw("GET", path_or_url)
    equal(status, 200, f"raw GET {path_or_url} status (body {body})")
    return headers, body


def next_url(headers):
    for part in (headers.get("Link") or "").split(", "):
        if part.endswith('; rel="next"'):
            return part[1 : part.index(">")]
    return None


def raw_crawl(path):
    """Every element of a list, following `next`; also returns X-Total-Count and page count."""
    headers, body = raw_ok(path)
    total = int(headers["X-Total-Count"])
    items, pages = list(body), 1
    url = next_url(headers)
    while url:
        headers, body = raw_ok(url)
        items.extend(body)
        pages += 1
        url = next_url(headers)
    equal(len(items), total, f"raw crawl of {path}: element count vs X-Total-Count")
    return items, total, pages


def raw_error(path, method="GET", key=KEY):
    status, _, body = raw(method, path, key=key)
    check(status >= 400, f"raw {method} {path} should fail, got {status}")
    check(isinstance(body, dict) and "error" in body, f"raw {method} {path}: no error JSON: {body}")
    return body["error"]


def q(value):
    return urllib.parse.quote(value, safe="")


# --- the official client -------------------------------------------------------------------


def make_client(key=KEY):
    client = Fintoc(key)
    client._client.base_url = BASE  # as the README shows (The official clients)
    return client


CLIENT = make_client()


def expect_error(klass, raw_path, call, what, method="GET"):
    """`call()` must raise exactly `klass`, whose message carries the server's error code."""
    expected = raw_error(raw_path, method=method, key=KEY if klass is not AuthenticationError else "sk_test_not_a_real_key")
    try:
        result = call()
    except klass as exc:
        equal(type(exc), klass, f"{what}: exception class")
        message = str(exc)
        check(
            message.startswith(f"{expected['type']}: {expected['code']}"),
            f"{what}: message {message!r} does not start with the server's type and code {expected}",
        )
        return
    except Exception as exc:  # noqa: BLE001  (any other class is the failure we report)
        raise CheckFailed(f"{what}: expected {klass.__name__}, got {type(exc).__name__}: {exc}") from exc
    raise CheckFailed(f"{what}: expected {klass.__name__}, got a result: {result!r}")


def is_utc_datetime(value):
    return isinstance(value, datetime.datetime)


# --- checks --------------------------------------------------------------------------------


def check_list_links():
    raw_links, total, _ = raw_crawl("/v1/links")
    check(total >= 3, f"the organization needs at least 3 links, has {total}")
    links = CLIENT.links.list(lazy=False)
    equal([l.id for l in links], [l["id"] for l in raw_links], "links.list() ids, in order")
    check(all(isinstance(l, Link) for l in links), "links.list() returns Link objects")
    # One per page: the client must follow `next` (total - 1 >= 2 times) and keep per_page.
    paged = list(CLIENT.links.list(per_page=1))
    equal([l.id for l in paged], [l["id"] for l in raw_links], "links.list(per_page=1) ids (lazy)")
    by_id = {l["id"]: l for l in raw_links}
    for link in links:
        expected = by_id[link.id]
        equal(link.username, expected["username"], f"{link.id} username")
        equal(link.holder_id, expected["holder_id"], f"{link.id} holder_id")
        equal(link.mode, "test", f"{link.id} mode")
        equal(link.institution.id, expected["institution"]["id"], f"{link.id} institution.id")
        check(is_utc_datetime(link.created_at), f"{link.id} created_at is parsed as a datetime: {link.created_at!r}")


def check_get_link():
    _, expected = raw_ok(f"/v1/links/{q(LINK_TOKEN)}")
    link = CLIENT.links.get(LINK_TOKEN)
    check(isinstance(link, Link), f"links.get returns a Link, got {type(link)}")
    equal(link.id, expected["id"], "links.get id")
    check(LINK_TOKEN.startswith(link.id + "_token_"), "the link token belongs to the link id")
    for field in ("username", "holder_id", "holder_type", "status", "active", "mode"):
        equal(getattr(link, field), expected[field], f"links.get {field}")
    equal(link.institution.id, expected["institution"]["id"], "links.get institution.id")
    check(is_utc_datetime(link.created_at), f"link.created_at is a datetime: {link.created_at!r}")
    # Link-scoped managers carry ?link_token= on every request.
    accounts = link.accounts.list(lazy=False)
    equal([a.id for a in accounts], [a["id"] for a in expected["accounts"]], "link.accounts.list() ids")


def check_accounts():
    raw_accounts, total, _ = raw_crawl(f"/v1/accounts?link_token={q(LINK_TOKEN)}")
    check(total >= 2, f"the link should have several accounts, has {total}")
    accounts = CLIENT.accounts.list(link_token=LINK_TOKEN, lazy=False)
    equal([a.id for a in accounts], [a["id"] for a in raw_accounts], "accounts.list ids")
    check(all(isinstance(a, Account) for a in accounts), "accounts.list returns Account objects")
    paged = list(CLIENT.accounts.list(link_token=LINK_TOKEN, per_page=1))
    equal([a.id for a in paged], [a["id"] for a in raw_accounts], "accounts.list(per_page=1) ids")
    for expected in raw_accounts:
        account = CLIENT.accounts.get(expected["id"], link_token=LINK_TOKEN)
        equal(account.id, expected["id"], "accounts.get id")
        for field in ("number", "currency", "type", "holder_id", "name"):
            equal(getattr(account, field), expected[field], f"accounts.get {field}")
        for field in ("available", "current", "limit"):
            equal(getattr(account.balance, field), expected["balance"][field], f"{expected['id']} balance.{field}")


def check_movements():
    _, raw_accounts = raw_ok(f"/v1/accounts?link_token={q(LINK_TOKEN)}")
    account_id = raw_accounts[0]["id"]
    base = f"/v1/accounts/{account_id}/movements?link_token={q(LINK_TOKEN)}"
    raw_all, total, raw_pages = raw_crawl(base)
    check(total > 60, f"{account_id} needs more than 60 movements (3+ pages of 30), has {total}")
    check(raw_pages >= 3, f"raw crawl spans at least 3 pages, got {raw_pages}")
    expected_ids = [m["id"] for m in raw_all]

    # Default page size: the client follows `next` page after page until the end.
    movements = CLIENT.accounts.movements.list(account_id=account_id, link_token=LINK_TOKEN, lazy=False)
    equal(len(movements), total, "accounts.movements.list count vs X-Total-Count")
    equal([m.id for m in movements], expected_ids, "accounts.movements.list ids, in order")
    check(all(isinstance(m, Movement) for m in movements), "movements are Movement objects")
    by_id = {m["id"]: m for m in raw_all}
    for movement in movements:
        expected = by_id[movement.id]
        equal(movement.amount, expected["amount"], f"{movement.id} amount")
        equal(movement.currency, expected["currency"], f"{movement.id} currency")
        equal(movement.type, expected["type"], f"{movement.id} type")
        check(is_utc_datetime(movement.post_date), f"{movement.id} post_date is a datetime: {movement.post_date!r}")

    # Through a Link object and an Account object, with an explicit page size (lazy).
    link = CLIENT.links.get(LINK_TOKEN)
    account = link.accounts.get(account_id)
    lazy = list(account.movements.list(per_page=25))
    equal([m.id for m in lazy], expected_ids, "link.accounts.get(A).movements.list(per_page=25) ids")

    # Filters pass through untouched; compare with the server's own count.
    dates = sorted({m["post_date"][:10] for m in raw_all})
    since, until = dates[len(dates) // 4], dates[(3 * len(dates)) // 4]
    window_path = f"{base}&since={since}&until={until}&confirmed_only=false"
    window_raw, window_total, _ = raw_crawl(window_path)
    window = CLIENT.accounts.movements.list(
        account_id=account_id, link_token=LINK_TOKEN, since=since, until=until, confirmed_only="false", lazy=False
    )
    equal([m.id for m in window], [m["id"] for m in window_raw], f"movements since={since} until={until} ids")
    _, every_total, _ = raw_crawl(f"{base}&confirmed_only=false&per_page=300")
    check(0 < window_total < every_total, f"the window holds some but not all movements ({window_total} of {every_total})")

    # One movement, both ways.
    wanted = raw_all[len(raw_all) // 2]
    one = CLIENT.accounts.movements.get(wanted["id"], account_id=account_id, link_token=LINK_TOKEN)
    equal(one.id, wanted["id"], "accounts.movements.get id")
    equal(one.amount, wanted["amount"], "accounts.movements.get amount")
    equal(one.description, wanted["description"], "accounts.movements.get description")
    via_account = account.movements.get(wanted["id"])
    equal(via_account.id, wanted["id"], "account.movements.get id")


def check_update_link():
    def raw_active():
        _, body = raw_ok(f"/v1/links/{q(LINK_TOKEN)}")
        return body["active"]

    equal(raw_active(), True, "link starts active")
    updated = CLIENT.links.update(LINK_TOKEN, active=False)
    check(isinstance(updated, Link), "links.update returns a Link")
    equal(updated.active, False, "links.update(active=False) answer")
    equal(raw_active(), False, "server state after links.update(active=False)")
    updated = CLIENT.links.update(LINK_TOKEN, active=True)
    equal(updated.active, True, "links.update(active=True) answer")
    equal(raw_active(), True, "server state after links.update(active=True)")
    # The resource form: PATCH /v1/links/L?link_token=L.
    link = CLIENT.links.get(LINK_TOKEN)
    link.update(active=False)
    equal(raw_active(), False, "server state after link.update(active=False)")
    again = link.update(active=True)
    equal(again.active, True, "link.update(active=True) answer")
    equal(raw_active(), True, "server state after link.update(active=True)")


def check_delete_link():
    link = CLIENT.links.get(DELETE_LINK_TOKEN)
    link_id = link.id
    ids_before = [l["id"] for l in raw_crawl("/v1/links")[0]]
    check(link_id in ids_before, f"{link_id} is listed before deletion")
    # The manager with the link id, as the docs and Python's link.delete() do.
    result = CLIENT.links.delete(link_id)
    equal(result, link_id, "links.delete returns the identifier")
    status, _, body = raw("GET", f"/v1/links/{q(DELETE_LINK_TOKEN)}")
    equal(status // 100, 4, f"the deleted link is gone (GET answered {status} {body})")
    ids_after = [l["id"] for l in raw_crawl("/v1/links")[0]]
    equal(ids_after, [i for i in ids_before if i != link_id], "links listed after deletion")
    expect_error(
        InvalidRequestError,
        f"/v1/links/{q(DELETE_LINK_TOKEN)}",
        lambda: CLIENT.links.get(DELETE_LINK_TOKEN),
        "links.get of a deleted link",
    )
    # The main link is untouched.
    equal(CLIENT.links.get(LINK_TOKEN).active, True, "the other link survives")


def check_errors():
    bad = make_client("sk_test_not_a_real_key")
    expect_error(AuthenticationError, "/v1/links", lambda: bad.links.list(lazy=False), "links.list with an invalid key")
    expect_error(
        AuthenticationError,
        f"/v1/links/{q(LINK_TOKEN)}",
        lambda: bad.links.get(LINK_TOKEN),
        "links.get with an invalid key",
    )
    bogus = LINK_TOKEN.split("_token_")[0] + "_token_notTheRealSecret000000"
    expect_error(
        InvalidRequestError,
        f"/v1/links/{q(bogus)}",
        lambda: CLIENT.links.get(bogus),
        "links.get with an invalid link token",
    )
    expect_error(
        InvalidRequestError,
        f"/v1/accounts?link_token={q(bogus)}",
        lambda: CLIENT.accounts.list(link_token=bogus, lazy=False),
        "accounts.list with an invalid link token",
    )
    expect_error(
        InvalidRequestError,
        "/v1/accounts",
        lambda: CLIENT.accounts.list(lazy=False),
        "accounts.list without a link token",
    )
    expect_error(
        InvalidRequestError,
        f"/v1/accounts/acc_doesNotExist00000?link_token={q(LINK_TOKEN)}",
        lambda: CLIENT.accounts.get("acc_doesNotExist00000", link_token=LINK_TOKEN),
        "accounts.get of an unknown account",
    )
    _, raw_accounts = raw_ok(f"/v1/accounts?link_token={q(LINK_TOKEN)}")
    account_id = raw_accounts[0]["id"]
    expect_error(
        InvalidRequestError,
        f"/v1/accounts/{account_id}/movements/mov_doesNotExist00000?link_token={q(LINK_TOKEN)}",
        lambda: CLIENT.accounts.movements.get("mov_doesNotExist00000", account_id=account_id, link_token=LINK_TOKEN),
        "accounts.movements.get of an unknown movement",
    )
    expect_error(
        InvalidRequestError,
        f"/v1/accounts/{account_id}/movements?link_token={q(LINK_TOKEN)}&since=yesterday",
        lambda: CLIENT.accounts.movements.list(
            account_id=account_id, link_token=LINK_TOKEN, since="yesterday", lazy=False
        ),
        "accounts.movements.list with an invalid since",
    )
    expect_error(
        InvalidRequestError,
        "/v1/links/link_doesNotExist0000",
        lambda: CLIENT.links.delete("link_doesNotExist0000"),
        "links.delete of an unknown link",
        method="DELETE",
    )


CHECKS = [
    check_list_links,
    check_get_link,
    check_accounts,
    check_movements,
    check_update_link,
    check_errors,
    check_delete_link,  # last: it removes a link the other checks count
]


def main():
    print(f"fintoc (python) {version('fintoc')}, httpx {httpx.__version__}, base {BASE}")
    if httpx.__version__.split(".")[:2] != ["0", "27"]:
        print(f"FAIL: httpx {httpx.__version__} installed; pin 0.27.x (>= 0.28 breaks the client's paging)")
        return 1
    passed, failed = 0, 0
    for fn in CHECKS:
        try:
            fn()
        except CheckFailed as exc:
            failed += 1
            print(f"FAIL {fn.__name__}: {exc}")
        except Exception:  # noqa: BLE001  (an unexpected exception is a failure with its trace)
            failed += 1
            print(f"FAIL {fn.__name__}: unexpected exception\n{traceback.format_exc()}")
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"python official client: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
