"""Array parameters in their text form (centre/db/arrays.py) and the lookups that send them (centre/db/lookup.py).

The round trips parse each literal with the real PostgreSQL server's own array input, which is what the
ingest's lookups and rollup upserts rely on; the texts are any Unicode but U+0000 (which PostgreSQL cannot
store, and the ingest refuses before any lookup).
"""
from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from centre.db.arrays import array_literal
from centre.db.lookup import _built
from centre.db.tables import ratings, reasons

AWKWARD = ["", "NULL", "null", " a b ", "a,b", "{x}", 'say "hi"', "back\\slash", '\\"', "汉字", "\t\n"]
TEXTS = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=12)


def test_texts_are_quoted_and_escaped() -> None:
    assert array_literal(["a", "b-1"]) == '{"a","b-1"}'
    assert array_literal(['say "hi"', "c:\\x"]) == '{"say \\"hi\\"","c:\\\\x"}'
    assert array_literal([]) == "{}"


def test_integers_nulls_and_booleans() -> None:
    assert array_literal([1, -2, 2 ** 63 - 1]) == "{1,-2,9223372036854775807}"
    assert array_literal(["a", None, 3]) == '{"a",NULL,3}'
    assert array_literal([True, False]) == "{t,f}"


def test_anything_else_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="not float"):
        array_literal([1.5])   # type: ignore[list-item]


def _parsed(engine: Engine, literal: str, array_type: str) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT CAST(:v AS {array_type})"), {"v": literal}).scalar_one())


def test_awkward_texts_survive_postgresql(pg_engine: Engine) -> None:
    assert _parsed(pg_engine, array_literal(AWKWARD), "TEXT[]") == AWKWARD
    assert _parsed(pg_engine, array_literal(["x", None]), "TEXT[]") == ["x", None]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(TEXTS, max_size=8))
def test_any_texts_survive_postgresql(pg_engine: Engine, values: list[str]) -> None:
    assert _parsed(pg_engine, array_literal(values), "TEXT[]") == values


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-(2 ** 63), 2 ** 63 - 1)), max_size=8))
def test_any_bigints_survive_postgresql(pg_engine: Engine, values: Sequence[int | None]) -> None:
    assert _parsed(pg_engine, array_literal(values), "BIGINT[]") == list(values)


@pytest.mark.parametrize(("query", "key", "expected"), [
    (select(ratings.c.uuid), ratings.c.uuid, "character varying[]"),
    (select(reasons.c.id), reasons.c.id, "bigint[]"),
])
def test_lookups_send_their_keys_typed_as_the_keys_array(pg_engine: Engine, query: object, key: object,
                                                         expected: str) -> None:
    """PostgreSQL types the parameter as the key column's array, so that a custom plan sees the values and
    walks the key's index. A parameter typed as text and cast at run time hid them: the reasons of a batch
    were looked up by a scan of every reason (40 ms a batch, five times PostgreSQL's whole ingest)."""
    statement = _built(query, key, 0)   # type: ignore[arg-type]
    with pg_engine.connect() as conn:
        sql = str(statement.compile(dialect=conn.dialect))
        cursor = conn.connection.dbapi_connection.cursor()   # type: ignore[union-attr]
        cursor.execute(sql, {"keys": array_literal(["1"])}, prepare=True)
        cursor.fetchall()
        cursor.execute("SELECT parameter_types::text FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%= ANY (CAST($1 AS %"])
        (types,) = cursor.fetchone()
        assert types.strip('{}"') == expected
