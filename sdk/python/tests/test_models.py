"""The models catch a connector's mistakes where they are made."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from refresco_connector import BankMovement, Credentials, DateWindow


def test_amounts_must_be_integers() -> None:
    with pytest.raises(ValidationError):
        BankMovement(bank_id="m", amount=12.5, currency="CLP", description="x", post_date=date.today())  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        BankMovement(bank_id="m", amount="12", currency="CLP", description="x", post_date=date.today())  # type: ignore[arg-type]


def test_a_misspelt_field_is_an_error() -> None:
    with pytest.raises(ValidationError):
        BankMovement(bank_id="m", amount=1, currency="CLP", description="x", post_date=date.today(), pendng=True)  # type: ignore[call-arg]


def test_a_password_does_not_print() -> None:
    credentials = Credentials(username="ada", password="s3cret-pass", holder_type="business")
    assert "s3cret-pass" not in repr(credentials)
    assert "s3cret-pass" not in str(credentials)
    assert credentials.password.get_secret_value() == "s3cret-pass"


def test_a_window_includes_both_ends() -> None:
    window = DateWindow(since=date(2026, 1, 1), until=date(2026, 1, 31))
    assert date(2026, 1, 1) in window
    assert date(2026, 1, 31) in window
    assert date(2026, 2, 1) not in window
