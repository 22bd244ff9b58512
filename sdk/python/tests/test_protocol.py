"""The server side of protocol v1: what Refresco sees when it calls an SDK connector."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from refresco_connector.errors import (
    BY_CODE,
    ActionNeeded,
    ConnectorError,
    CustomError,
    PasswordExpired,
    RateLimited,
    SupportRequired,
)
from toybank import PASSWORD, SMS_CODE

CONTEXT = {"today": "2026-03-10", "refresh_number": 1}


def login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post(
        "/login",
        json={
            "institution_id": "cl_toy",
            "credentials": {"username": username, "password": password, "holder_type": "individual"},
        },
    )


def test_manifest_lists_the_institutions(client: TestClient) -> None:
    answer = client.get("/manifest")
    assert answer.status_code == 200
    assert answer.json() == {
        "protocol": 1,
        "institutions": [{"id": "cl_toy", "name": "Toy Bank", "country": "cl", "currency": "CLP"}],
    }


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "test-token-0123456789"])
def test_a_wrong_or_missing_token_is_refused(client: TestClient, header: str | None) -> None:
    del client.headers["Authorization"]
    headers = {"Authorization": header} if header else {}
    for answer in (client.get("/manifest", headers=headers), login(client, "ada")):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "other"


def test_another_protocol_version_is_refused(client: TestClient) -> None:
    answer = client.get("/manifest", headers={"Refresco-Connector-Protocol": "2"})
    assert answer.status_code == 400
    assert "protocol 1" in answer.json()["error"]["message"]


def test_login_without_second_factor(client: TestClient) -> None:
    answer = login(client, "ada")
    assert answer.status_code == 200
    assert answer.json() == {"outcome": "logged_in", "session": {"cookie": "sess-ada"}}


def test_login_with_an_sms_code(client: TestClient) -> None:
    challenge = login(client, "mfa").json()
    assert challenge["outcome"] == "mfa_required"
    assert challenge["challenge"]["kind"] == "sms"
    assert challenge["challenge"]["hint"] == "+56 9 **** 1234"
    body = {"institution_id": "cl_toy", "challenge": challenge["challenge"]}

    wrong = client.post("/mfa", json={**body, "answer": {"code": "000000"}})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "wrong_mfa_code"
    assert wrong.json()["error"]["attempts_left"] == 2

    approved = client.post("/mfa", json={**body, "answer": "approved"})
    assert approved.json()["error"]["code"] == "wrong_mfa_code"

    right = client.post("/mfa", json={**body, "answer": {"code": SMS_CODE}})
    assert right.status_code == 200
    assert right.json() == {"session": {"cookie": "sess-mfa", "mfa": "done"}}


def test_a_wrong_password_is_invalid_credentials(client: TestClient) -> None:
    answer = login(client, "ada", "not-the-password")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_credentials"
    assert "not-the-password" not in answer.text


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_every_error_class_answers_its_code(client: TestClient, code: str) -> None:
    answer = login(client, f"error:{code}")
    error = answer.json()["error"]
    assert error["code"] == code
    assert answer.status_code == BY_CODE[code].status
    assert answer.status_code >= 400
    if code == "account_failed":
        assert error["bank_id"] == "acc-1"
    if code == "wrong_mfa_code":
        assert error["attempts_left"] == 2


@pytest.mark.parametrize(
    "body, names",
    [
        ({"institution_id": "cl_toy"}, "credentials"),
        (
            {
                "institution_id": "cl_toy",
                "credentials": {"username": "a", "password": PASSWORD, "holder_type": "alien"},
            },
            "holder_type",
        ),
        ({"institution_id": "cl_toy", "credentials": {"username": "a", "password": 12}}, "password"),
    ],
)
def test_a_malformed_request_is_a_400_naming_the_field(client: TestClient, body, names) -> None:
    answer = client.post("/login", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "other"
    assert names in answer.json()["error"]["message"]
    assert PASSWORD not in answer.text


def test_a_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    answer = client.post("/login", content=b"{not json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "other"


def test_an_unknown_institution_is_a_404(client: TestClient) -> None:
    answer = client.post(
        "/accounts",
        json={"institution_id": "cl_other", "session": {}, "context": CONTEXT},
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "other"


def test_accounts(client: TestClient) -> None:
    answer = client.post(
        "/accounts",
        json={"institution_id": "cl_toy", "session": {"cookie": "sess-ada"}, "context": CONTEXT},
    )
    assert answer.status_code == 200
    accounts = answer.json()["accounts"]
    assert [a["bank_id"] for a in accounts] == ["acc-1", "acc-2"]
    assert accounts[0]["balance_current"] == 1000
    assert answer.json()["session"] is None


def test_an_answer_that_breaks_the_protocol_is_other_not_sent(client: TestClient) -> None:
    answer = client.post(
        "/accounts",
        json={"institution_id": "cl_toy", "session": {"cookie": "sess-bad-answer"}, "context": CONTEXT},
    )
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "other"
    assert "1.5" not in answer.text


def movements_of(client: TestClient, bank_id: str, window: dict, cursor=None):
    accounts = client.post(
        "/accounts",
        json={"institution_id": "cl_toy", "session": {"cookie": "sess-ada"}, "context": CONTEXT},
    ).json()["accounts"]
    account = next(a for a in accounts if a["bank_id"] == bank_id)
    return client.post(
        "/movements",
        json={
            "institution_id": "cl_toy",
            "session": {"cookie": "sess-ada"},
            "account": account,
            "window": window,
            "context": CONTEXT,
            "cursor": cursor,
        },
    )


def test_movements_follow_cursors_to_the_end(client: TestClient) -> None:
    window = {"since": "2026-03-01", "until": "2026-03-10"}
    seen, cursor, pages = [], None, 0
    while True:
        page = movements_of(client, "acc-1", window, cursor).json()
        pages += 1
        seen += page["movements"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [m["bank_id"] for m in seen] == [f"mov-{i}" for i in range(5)]
    assert seen[1]["amount"] == -200
    assert seen[0]["post_date"] == "2026-03-10"
    assert seen[0]["transaction_date"] is None


def test_a_plain_list_is_one_last_page_inside_the_window(client: TestClient) -> None:
    page = movements_of(client, "acc-2", {"since": "2026-03-08", "until": "2026-03-09"}).json()
    assert [m["post_date"] for m in page["movements"]] == ["2026-03-09", "2026-03-08"]
    assert page["next_cursor"] is None


def test_an_unexpected_exception_is_other_without_its_text(client: TestClient) -> None:
    answer = login(client, "crash")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "other"
    assert PASSWORD not in answer.text


def test_a_secret_in_an_error_message_is_masked(client: TestClient) -> None:
    answer = login(client, "careless")
    assert answer.json()["error"] == {
        "code": "invalid_credentials",
        "message": "the bank says [redacted] is wrong",
        "class": "person",
    }


@pytest.mark.parametrize(
    "error, status, code, error_class",
    [
        (PasswordExpired(), 403, "password_expired", "person"),
        (ActionNeeded(), 403, "action_needed", "person"),
        (RateLimited(), 429, "rate_limited", "transient"),
        (SupportRequired(), 422, "support_required", "connector"),
        (CustomError("terms_changed", "person", "new terms"), 500, "terms_changed", "person"),
    ],
)
def test_every_error_says_its_class(error: ConnectorError, status: int, code: str, error_class: str) -> None:
    body = error.body().model_dump(exclude_none=True, by_alias=True)
    assert (error.status, body["code"], body["class"]) == (status, code, error_class)


def test_a_custom_error_needs_a_known_class() -> None:
    with pytest.raises(ValueError):
        CustomError("terms_changed", "the bank's")


@pytest.mark.parametrize("method, path", [("GET", "/nowhere"), ("GET", "/login"), ("DELETE", "/manifest")])
def test_other_paths_answer_the_protocol_error_shape(client: TestClient, method: str, path: str) -> None:
    answer = client.request(method, path)
    assert answer.status_code in (404, 405)
    assert answer.json()["error"]["code"] == "other"
