"""A rating's service item (事项编码) in the store: migration 0005 on a real file at 0004, the previous release
still using the migrated file, the append-only guard over the new column, and the chain with and without it."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from contract import GENESIS_HASH, HASHED_FIELDS, rating_hash
from kiosk.store import SCHEMA_HEAD, Identity, RatingStore
from kiosk.store.schema import _alembic_config
from kiosk.store.tables import Channel, EventKind

ITEM = "11010100000000001"
# The rating's columns in the previous release (schema 0004): what its INSERT names and its hash covers.
PREVIOUS_COLUMNS = tuple(name for name in HASHED_FIELDS if name != "item_code") + ("hash",)


def previous_release_rating(seq: int, prev_hash: str, **extra: object) -> dict:
    row = {"uuid": f"00000000-0000-4000-8000-{seq:012d}", "seq": seq, "device_id": "d", "unit_id": "u",
           "counter_id": "c", "staff_id": "S01", "case_no": f"case-{seq}", "level": 1 + seq % 5,
           "channel": "panel", "mode": "solicited", "recorded_at": f"2026-11-25T02:00:{seq:02d}.000000+00:00",
           "mono_ns": seq, "boot_id": "b", "clock_suspect": False, "app_version": "0.9", "prev_hash": prev_hash,
           **extra}
    row["hash"] = rating_hash(row)
    return row


def insert_as_the_previous_release(raw: sqlite3.Connection, row: dict) -> None:
    raw.execute(f"INSERT INTO ratings ({', '.join(PREVIOUS_COLUMNS)}) "
                f"VALUES ({', '.join(':' + name for name in PREVIOUS_COLUMNS)})", row)


def store_at_0004(path: Path, ratings: int) -> list[dict]:
    """A store as the previous release left it: its schema by the real migrations, its ratings, a reason, an
    event and a synced mark."""
    engine = create_engine(f"sqlite:///{path}")
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
    engine.dispose()
    rows, prev = [], GENESIS_HASH
    with sqlite3.connect(path) as raw:
        for seq in range(1, ratings + 1):
            rows.append(previous_release_rating(seq, prev))
            prev = rows[-1]["hash"]
            insert_as_the_previous_release(raw, rows[-1])
        raw.execute("INSERT INTO rating_reasons (rating_uuid, code, recorded_at) VALUES (?, 'slow', ?)",
                    (rows[0]["uuid"], rows[0]["recorded_at"]))
        raw.execute("INSERT INTO events (kind, recorded_at, mono_ns, boot_id, detail) "
                    "VALUES ('unrated', ?, 1, 'b', '{\"case_no\": \"case-0\"}')", (rows[0]["recorded_at"],))
        raw.execute("UPDATE ratings SET sync_state = 'synced' WHERE seq = 1")
    raw.close()
    return rows


def test_a_store_at_0004_migrates_keeping_every_row_and_its_chain(tmp_path):
    path = tmp_path / "evaluator.db"
    before = store_at_0004(path, ratings=6)
    store = RatingStore(path, Identity("d", "u", "c"))
    try:
        held = sorted(store.recent_ratings(100), key=lambda row: row["seq"])
        assert [{name: row[name] for name in PREVIOUS_COLUMNS} for row in held] == before
        assert all(row["item_code"] is None for row in held)
        assert [row["sync_state"] for row in held] == ["synced"] + ["pending"] * 5
        assert store.reasons_for(before[0]["uuid"]) == ["slow"] and len(store.events_of(EventKind.UNRATED)) == 1
        assert store.verify().ok and store.verify().checked == 6
        coded = store.append_rating(4, Channel.PANEL, "solicited", case_no="case-7", item_code=ITEM)
        assert coded.item_code == ITEM and store.recent_ratings(1)[0]["prev_hash"] == before[-1]["hash"]
        assert store.verify().ok and store.verify().checked == 7
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (SCHEMA_HEAD,)
        # The previous release opens the file as it is: its schema is still declared able to use it.
        assert raw.execute("PRAGMA user_version").fetchone() == (4,)
    raw.close()


def test_the_previous_release_still_writes_and_marks_a_migrated_store(tmp_path):
    path = tmp_path / "evaluator.db"
    store_at_0004(path, ratings=2)
    RatingStore(path, Identity("d", "u", "c")).close()             # this release migrates it to 0005
    with sqlite3.connect(path) as raw:                              # then the previous one runs again
        tail = raw.execute("SELECT hash FROM ratings WHERE seq = 2").fetchone()[0]
        insert_as_the_previous_release(raw, previous_release_rating(3, tail))
        raw.execute("UPDATE ratings SET sync_state = 'synced', sync_note = NULL WHERE seq <= 3")
    raw.close()
    store = RatingStore(path, Identity("d", "u", "c"))
    try:
        assert store.recent_ratings(1)[0]["item_code"] is None and store.verify().checked == 3
        assert store.verify().ok
    finally:
        store.close()


def test_the_item_code_is_append_only_like_every_other_field(store):
    coded = store.append_rating(5, Channel.PANEL, "solicited", case_no="case-1", item_code=ITEM)
    plain = store.append_rating(5, Channel.PANEL, "solicited", case_no="case-2")
    with sqlite3.connect(store.path) as raw:
        for sql, params in (("UPDATE ratings SET item_code = 'X1' WHERE uuid = ?", (coded.uuid,)),
                            ("UPDATE ratings SET item_code = 'X1' WHERE uuid = ?", (plain.uuid,)),
                            ("UPDATE ratings SET item_code = NULL WHERE uuid = ?", (coded.uuid,)),
                            ("DELETE FROM ratings WHERE uuid = ?", (coded.uuid,))):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(sql, params)
        raw.execute("UPDATE ratings SET sync_state = 'synced' WHERE uuid = ?", (coded.uuid,))   # still allowed
    raw.close()
    assert [row["item_code"] for row in store.recent_ratings(2)] == [None, ITEM] and store.verify().ok


def test_an_item_code_the_centre_would_refuse_is_never_stored(store):
    for bad in ("", "has space", "x" * 65, "1101\n", "事项"):
        with pytest.raises(ValueError, match="item_code"):
            store.append_rating(5, Channel.PANEL, "solicited", case_no="case-1", item_code=bad)
    assert store.count_ratings() == 0
