"""A list of values as one PostgreSQL array parameter in the array's own text form, for `CAST(:p AS type[])`.

The ingest passes arrays to PostgreSQL several times a batch: the uuids and ids it looks up (centre.db.lookup)
and every column of the rollups' deltas (centre/rollups.py, a few hundred values a column). psycopg formats a
Python list element by element in Python (its C module leaves lists to the pure-Python dumper), about 2 µs a
value: some 6 % of a batch's CPU. Texts and integers need no more than a join, done here in one pass; the
server parses the literal with the array type's own input function, so what it receives is the same array.
"""
from __future__ import annotations

from collections.abc import Sequence

# Inside double quotes only the backslash and the double quote are special (PostgreSQL, "Array Value Input").
_ESCAPED = str.maketrans({"\\": "\\\\", '"': '\\"'})


def array_literal(values: Sequence[str | int | None]) -> str:
    """`values` as PostgreSQL's text form of a one-dimensional array: every text quoted (so that commas,
    braces, blanks, an empty text and the word NULL stay texts), backslashes and quotes escaped, None as NULL.
    A text holding U+0000 cannot be stored in PostgreSQL at all; the ingest refuses it before it gets here."""
    if all(type(value) is str for value in values):      # the common case: uuids, ids and names
        texts: Sequence[str] = values    # type: ignore[assignment]   # every one a str, checked just above
        joined = "".join(texts)
        if "\\" in joined or '"' in joined:
            texts = [text.translate(_ESCAPED) for text in texts]
        return '{"' + '","'.join(texts) + '"}' if texts else "{}"
    return "{" + ",".join(_element(value) for value in values) + "}"


def _element(value: str | int | None) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):       # before int, which bool is: PostgreSQL's boolean input, not 0/1
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPED) + '"'
    raise TypeError(f"an array element must be a text, an integer or None, not {type(value).__name__}")
