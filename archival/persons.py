"""权利人/当事人 The persons a record concerns, and their resident identity numbers.

An agency's system names them with their 公民身份号码 (GB 11643-1999: 17 digits and a check
character computed from them, 0–9 or X); the archive keeps each number only as a keyed hash
(HMAC-SHA256 under the archive's person key), so that the lookup service can find the records
naming a citizen the portal vouches for, and nobody can read a number back from a topic, a store
or a log. Messages never repeat a number whole (`masked`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from recordflow.errors import RecordRejected

# GB 11643-1999 §8.2: the weights of the 17 digits, and the check character for each sum mod 11.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def normal_id(id_number: str) -> str:
    """The number as compared and hashed: no surrounding space, a lower-case x made upper."""
    return id_number.strip().upper()


def valid_id_number(id_number: str) -> bool:
    """Whether it is 17 digits and the check character GB 11643-1999 computes from them."""
    number = normal_id(id_number)
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], WEIGHTS, strict=True))
    return number[17] == CHECK[total % 11]


def masked(id_number: str) -> str:
    """For messages: the first six (the region) and last four characters, the rest starred."""
    number = normal_id(id_number)
    return (
        number[:6] + "*" * max(0, len(number) - 10) + number[-4:]
        if len(number) > 10
        else "*" * len(number)
    )


def id_hmac(key: bytes, id_number: str) -> str:
    """The keyed hash the archive keeps of an identity number (hex)."""
    return hmac.new(key, normal_id(id_number).encode("ascii"), hashlib.sha256).hexdigest()


def validate_persons(persons: Iterable[Mapping[str, Any]]) -> None:
    """RecordRejected for the first person without a name or role, or with an identity number
    that is not one (its check character, its length)."""
    for number, person in enumerate(persons):
        if not str(person.get("name") or "").strip() or not str(person.get("role") or "").strip():
            raise RecordRejected("person-incomplete", f"persons[{number}] needs a role and a name")
        id_number = person.get("id_number")
        if id_number is not None and not valid_id_number(str(id_number)):
            raise RecordRejected(
                "invalid-id-number",
                f"persons[{number}].id_number {masked(str(id_number))} is not a resident identity "
                "number (GB 11643-1999: 17 digits and their check character)",
            )


def named(persons: Iterable[Mapping[str, Any]], key: bytes) -> list[dict[str, Any]]:
    """The persons as the archive keeps them: each identity number replaced by its keyed hash."""
    return [
        {"role": person["role"], "name": person["name"],
         "id_hmac": id_hmac(key, person["id_number"]) if person.get("id_number") else None}
        for person in persons
    ]  # fmt: skip
