"""Helpers for the values of the centre's rows: the server's clock, NUL refusal, a stored rating as sent."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contract import iso_utc


def utcnow() -> datetime:
    return datetime.now(UTC)


def now_text() -> str:
    return iso_utc(utcnow())


def nul_field(values: Mapping[str, Any]) -> str | None:
    """The first field whose text holds U+0000. PostgreSQL cannot store it in a text column (SQLite
    can), so every backend refuses it as bad input rather than PostgreSQL failing with a 500."""
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            return name
    return None


def held_rating(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A stored rating's `names` as the wire record has them, to compare with a sent copy or hash again."""
    fields = {name: row[name] for name in names}
    fields["clock_suspect"] = bool(fields["clock_suspect"])   # whatever integer a backend gave for the flag
    return fields
