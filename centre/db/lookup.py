"""The rows whose key is among many values (a batch's uuids, its row ids): one statement per chunk, built once.

The ingest asks this several times per batch, so the statement's shape is what costs: SQLAlchemy renders an
expanding IN again at every execution (about 2 ms for 500 values), and a statement with 500 bound parameters
is long enough that psycopg parses its text again each time and PostgreSQL plans it again. So:
- on PostgreSQL, `key = ANY(CAST(:keys AS type[]))` with the chunk as one array parameter, in the array's
  text form (centre/db/arrays.py: psycopg would format a list value by value in Python): a short statement,
  the same for every batch, whose parse psycopg caches and whose plan the server keeps once it is prepared;
- elsewhere (SQLite), one bound parameter per value, padded with a repeat (which IN ignores) to a power of two,
  so that a handful of shapes, each compiled once, serve every batch.
The query passed in is a module-level constant of its caller: the built statements are cached by its identity.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, any_, bindparam, cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from centre.db.arrays import array_literal

CHUNK = 500   # values per statement: far below SQLite's and PostgreSQL's bound-parameter limits

_BUILT: dict[tuple[int, int], tuple[Select[Any], Select[Any]]] = {}


def among(conn: Connection, query: Select[Any], key: ColumnElement[Any], values: Sequence[Any],
          params: Mapping[str, Any] | None = None) -> Iterator[Row[Any]]:
    """The rows of `query` whose `key` is among `values` (`params` binds the query's own parameters)."""
    array = conn.dialect.name == "postgresql"
    for start in range(0, len(values), CHUNK):
        chunk = list(values[start:start + CHUNK])
        if array:
            statement, bound = _built(query, key, 0), {"keys": array_literal(chunk)}
        else:
            size = max(8, 1 << (len(chunk) - 1).bit_length())
            padded = chunk + chunk[-1:] * (size - len(chunk))
            statement, bound = _built(query, key, size), {f"k{i}": value for i, value in enumerate(padded)}
        yield from conn.execute(statement, {**(params or {}), **bound})


def _built(query: Select[Any], key: ColumnElement[Any], size: int) -> Select[Any]:
    """`query` narrowed to `key` among the values: one array parameter (size 0) or `size` parameters."""
    cache_key = (id(query), size)
    found = _BUILT.get(cache_key)
    if found is None or found[0] is not query:
        if size == 0:
            # Untyped, so that no `::VARCHAR` is written after it: PostgreSQL then types the parameter as the
            # array itself, and a custom plan sees its values and walks the key's index. Typed text and cast
            # at run time, the values were hidden from the planner, which chose to scan the whole table.
            narrowed = query.where(key == any_(cast(bindparam("keys", type_=NullType()), ARRAY(key.type))))
        else:
            narrowed = query.where(key.in_([bindparam(f"k{i}") for i in range(size)]))
        found = _BUILT[cache_key] = (query, narrowed)
    return found[1]
