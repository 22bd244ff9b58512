"""The bank's users, accounts and movements, in memory.

Movements are generated from a fixed seed relative to today, so every run sees the same
history and every check window (the last 90 days) holds some. `mutate` changes the data the
way a real bank's does between two visits: a new movement, a modified one (same operation
number, new description and amount), a removed one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

HISTORY_DAYS = 120
SMS_CODE = "123456"
MFA_ATTEMPTS = 3


@dataclass
class Movement:
    operation: str  # the bank's operation number: stable, the scraper's bank id
    day: date
    description: str
    amount: int  # CLP, positive in, negative out
    pending: bool = False


@dataclass
class Account:
    number: str
    kind: str  # what the site calls it, e.g. "Cuenta Corriente"
    balance: int
    credit_line: int
    movements: list[Movement] = field(default_factory=list)


@dataclass
class User:
    rut: str
    password: str
    name: str
    sms: bool = False  # asks for an SMS code after the password
    phone: str = "+56 9 **** 4321"
    locked: bool = False
    needs_action: bool = False  # must accept new terms on the site before going on
    accounts: list[Account] = field(default_factory=list)


def today() -> date:
    return datetime.now(timezone.utc).date()


def _history(seed: str, count: int) -> list[Movement]:
    rng = random.Random(seed)
    names = ["Camila Rojas", "Supermercado Lider", "Copec", "Entel", "Arriendo", "Sueldo ACME"]
    start = today()
    moves = []
    for i in range(count):
        # The first few are recent, so a refresh's short window (two weeks) always holds
        # the ones `mutate` modifies and removes.
        day = start - timedelta(days=i if i < 3 else rng.randrange(HISTORY_DAYS))
        incoming = rng.random() < 0.3
        amount = rng.randrange(1_000, 900_000) * (1 if incoming else -1)
        prefix = "Traspaso de" if incoming else "Pago a"
        moves.append(Movement(f"{seed}-{i:04d}", day, f"{prefix}: {rng.choice(names)}", amount))
    return newest_first(moves)


def newest_first(moves: list[Movement]) -> list[Movement]:
    return sorted(moves, key=lambda m: (m.day, m.operation), reverse=True)


def _user(rut: str, password: str, name: str, *, sms: bool = False, locked: bool = False,
          needs_action: bool = False, accounts: int = 2) -> User:
    digits = rut.replace("-", "")
    user = User(rut=rut, password=password, name=name, sms=sms, locked=locked, needs_action=needs_action)
    kinds = ["Cuenta Corriente", "Cuenta Vista"]
    for a in range(accounts):
        number = f"{digits[:6]}{a + 1:03d}"
        user.accounts.append(
            Account(number, kinds[a % 2], 1_500_000 * (a + 1), 500_000 if a == 0 else 0,
                    _history(f"{number}", 45 + 20 * a))
        )
    return user


class Bank:
    """Every user of the bank. One instance per process."""

    def __init__(self) -> None:
        self.users = {
            u.rut: u
            for u in [
                _user("11111111-1", "fakepass1", "Ana Pérez"),
                _user("22222222-2", "fakepass2", "Bruno Soto", sms=True),
                _user("33333333-3", "fakepass3", "Carla Díaz", locked=True),
                _user("44444444-4", "fakepass4", "Diego Mora", needs_action=True),
            ]
        }
        self.mutations = 0

    def account(self, user: User, number: str) -> Account | None:
        return next((a for a in user.accounts if a.number == number), None)

    def mutate(self) -> None:
        """One round of changes in every account: a new movement today, the newest one
        modified, the second newest removed."""
        self.mutations += 1
        n = self.mutations
        for user in self.users.values():
            for account in user.accounts:
                moves = account.movements
                if len(moves) >= 2:
                    moves[0].description += f" (corregido {n})"
                    moves[0].amount -= 1_000
                    del moves[1]
                moves.append(Movement(f"{account.number}-new{n}", today(), f"Abono nuevo {n}", 25_000 * n))
                account.movements = newest_first(moves)
