"""Reading Banco Falso's pages. Pure functions over HTML, so a layout change shows up here,
as `OtherError("... layout not recognised")`, and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from selectolax.lexbor import LexborHTMLParser as HTMLParser, LexborNode as Node

from refresco_connector import OtherError

ACCOUNT_TYPES = {"Cuenta Corriente": "checking_account", "Cuenta Vista": "sight_account"}


def _text(node: Node | None) -> str:
    return node.text(strip=True) if node is not None else ""


def money(text: str) -> int:
    """`$1.234.567` or `-$12.000` → pesos as an integer (CLP has no smaller unit)."""
    digits = text.replace("$", "").replace(".", "").replace("-", "").strip()
    if not digits.isdigit():
        raise OtherError(f"not an amount: {text!r}")
    return -int(digits) if text.strip().startswith("-") else int(digits)


def csrf_token(html: str) -> str:
    node = HTMLParser(html).css_first('input[name="csrf_token"]')
    if node is None or not node.attributes.get("value"):
        raise OtherError("no CSRF token: the login page layout is not recognised")
    return node.attributes["value"] or ""


def alert(html: str) -> tuple[str, str] | None:
    """The page's alert as (kind, text): kind is `error`, `locked`, `expired` or `action`."""
    node = HTMLParser(html).css_first("p.alert")
    if node is None:
        return None
    kinds = [c.removeprefix("alert-") for c in (node.attributes.get("class") or "").split() if c != "alert"]
    return (kinds[0] if kinds else "error", _text(node))


def sms_hint(html: str) -> str | None:
    return _text(HTMLParser(html).css_first("#phone")) or None


@dataclass
class Holder:
    name: str
    rut: str


@dataclass
class AccountRow:
    kind: str
    number: str
    available: int
    balance: int
    credit_line: int


def accounts(html: str) -> tuple[Holder, list[AccountRow]]:
    tree = HTMLParser(html)
    table = tree.css_first("table#accounts")
    if table is None:
        raise OtherError("no accounts table: the accounts page layout is not recognised")
    holder = Holder(_text(tree.css_first("#holder-name")), _text(tree.css_first("#holder-rut")))
    rows = [
        AccountRow(
            kind=_text(tr.css_first("td.kind")),
            number=_text(tr.css_first("td.number")),
            available=money(_text(tr.css_first("td.available"))),
            balance=money(_text(tr.css_first("td.balance"))),
            credit_line=money(_text(tr.css_first("td.credit-line"))),
        )
        for tr in table.css("tbody tr")
    ]
    return holder, rows


@dataclass
class MovementRow:
    operation: str
    day: date
    description: str
    amount: int
    pending: bool


def movements(html: str) -> tuple[list[MovementRow], bool]:
    """One page's rows, and whether a next page exists."""
    tree = HTMLParser(html)
    table = tree.css_first("table#movements")
    if table is None:
        raise OtherError("no movements table: the movements page layout is not recognised")
    rows = []
    for tr in table.css("tbody tr"):
        debit, credit = _text(tr.css_first("td.debit")), _text(tr.css_first("td.credit"))
        rows.append(
            MovementRow(
                operation=_text(tr.css_first("td.operation")),
                day=datetime.strptime(_text(tr.css_first("td.date")), "%d/%m/%Y").date(),
                description=_text(tr.css_first("td.description")),
                amount=-money(debit) if debit else money(credit),
                pending=_text(tr.css_first("td.state")) == "Pendiente",
            )
        )
    return rows, tree.css_first("a.next") is not None
