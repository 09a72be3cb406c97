"""A rating's field list is spelled once, by the wire record: the hash chain covers it and both ends
store every field of it in a column of the same kind."""
from __future__ import annotations

import types
import typing

import pytest
from sqlalchemy import Table

from centre.db import tables as centre_tables
from contract import HASHED_FIELDS, RATING_FIELDS, RatingRecord
from kiosk.store import tables as kiosk_tables

TABLES = {"centre": centre_tables.ratings, "terminal": kiosk_tables.ratings}


def test_the_hash_covers_every_field_of_the_wire_record_but_the_hash():
    assert tuple(RatingRecord.model_fields) == RATING_FIELDS
    assert tuple(name for name in RATING_FIELDS if name != "hash") == HASHED_FIELDS
    assert "prev_hash" in HASHED_FIELDS and "hash" not in HASHED_FIELDS


def _wire_type(name: str) -> tuple[type, bool]:
    """The field's Python type and whether the record allows None."""
    annotation = RatingRecord.model_fields[name].annotation
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    [kind] = [arg for arg in args if arg is not type(None)]
    return kind, type(None) in args


@pytest.mark.parametrize("end", sorted(TABLES))
def test_each_end_stores_every_field_of_a_rating(end: str):
    table: Table = TABLES[end]
    missing = [name for name in RATING_FIELDS if name not in table.c]
    assert not missing, f"the {end}'s ratings table has no column for {missing}"


@pytest.mark.parametrize("end", sorted(TABLES))
def test_each_column_takes_what_the_wire_record_allows(end: str):
    for name in RATING_FIELDS:
        column = TABLES[end].c[name]
        kind, optional = _wire_type(name)
        assert column.type.python_type is kind, f"the {end}'s {name} holds {column.type.python_type}, not {kind}"
        assert column.nullable == optional, f"the {end}'s {name}: nullable {column.nullable}, the record {optional}"
