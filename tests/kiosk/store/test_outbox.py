"""The outbox on a real store file: ratings encoded by SQLite exactly as the wire wants them, reading by cursor,
marking a whole batch by its seq range."""
from __future__ import annotations

import json
import sqlite3

from contract import HASHED_FIELDS, OPTIONAL_HASHED, canonical_json, rating_hash
from kiosk.store.outbox import Cursor, Outbox
from kiosk.store.tables import Channel, EventKind

AWKWARD = 'A"1\\2\n\t\x01\x7f 中文 \u2028 😀'    # quotes, backslash, control characters, non-ASCII, astral


def stored_rows(store) -> list[dict]:
    """The pending ratings as stored, as the wire dicts a Python encoder would build from them: an optional field
    (item_code) only where the rating holds one."""
    rows = sorted(store.recent_ratings(1000), key=lambda row: row["seq"])
    return [{**{name: row[name] for name in HASHED_FIELDS + ("hash",)
                if name not in OPTIONAL_HASHED or row[name] is not None},
             "clock_suspect": bool(row["clock_suspect"])}
            for row in rows if row["sync_state"] == "pending"]


def states(store) -> dict[int, str]:
    with sqlite3.connect(store.path) as raw:
        return dict(raw.execute("SELECT seq, sync_state FROM ratings"))


def test_sqlite_encodes_each_rating_byte_for_byte_as_canonical_json(store):
    store.append_rating(5, Channel.PANEL, "open")
    store.append_rating(1, Channel.TOUCH, "solicited", staff_id="E1023", case_no=AWKWARD)
    store.append_rating(3, Channel.KEYBOARD, "open", staff_id=AWKWARD)
    store.append_rating(2, Channel.PANEL, "solicited", case_no="A-2", item_code="11010100000000001")
    batch = Outbox(store).next_encoded(10)
    expected = stored_rows(store)
    assert batch.ratings_json == canonical_json(expected)         # what the Python encoder sent before
    decoded = json.loads(batch.ratings_json)
    assert decoded == expected and decoded[1]["case_no"] == AWKWARD and decoded[0]["clock_suspect"] is False
    assert all(rating_hash(row) == row["hash"] for row in decoded)  # the centre re-hashes the same values
    assert batch.uuids == [row["uuid"] for row in expected] and batch.seqs == (1, 4)
    # Without an item code the key is absent, not null: a centre of the previous release forbids unknown keys.
    assert [row.get("item_code", "absent") for row in decoded] == ["absent"] * 3 + ["11010100000000001"]
    assert batch.ratings_json.count(b'"item_code"') == 1


def test_reading_by_cursor_does_not_wait_for_the_marks(store):
    for level in (5, 4, 3, 2, 1):
        store.append_rating(level, Channel.PANEL, "open")
    store.add_reasons(store.recent_ratings(1)[0]["uuid"], ["slow", "rude"])
    store.record_event(EventKind.MODE_CHANGED, mode="open")
    outbox = Outbox(store)
    first = outbox.next_encoded(2)
    second = outbox.next_encoded(2, first.after)                 # nothing marked yet
    third = outbox.next_encoded(2, second.after)
    assert (first.seqs, second.seqs, third.seqs) == ((1, 2), (3, 4), (5, 5))
    assert [r["code"] for r in first.reasons] == ["slow", "rude"] and second.reasons == []
    assert len(first.events) == 1 and second.events == [] and first.after.event_id == first.events[0]["id"]
    assert not outbox.next_encoded(2, third.after)
    assert outbox.next_encoded(2, Cursor()).seqs == (1, 2)       # from the start: still pending


def test_marking_a_whole_batch_by_range_touches_only_its_pending_ratings(store):
    for level in (5, 4, 3, 2, 1, 5):
        store.append_rating(level, Channel.PANEL, "open")
    outbox = Outbox(store)
    outbox.mark_rejected({stored_rows(store)[2]["uuid"]: "malformed: test"})    # seq 3, out of the queue
    batch = outbox.next_encoded(4)
    assert batch.seqs == (1, 5) and len(batch.uuids) == 4
    outbox.mark_synced(batch.uuids, [], [], seq_range=batch.seqs)
    assert states(store) == {1: "synced", 2: "synced", 3: "rejected", 4: "synced", 5: "synced", 6: "pending"}
    assert outbox.depth().ratings == 1


def test_marking_by_uuid_marks_exactly_those(store):
    for level in (5, 4, 3):
        store.append_rating(level, Channel.PANEL, "open")
    outbox = Outbox(store)
    batch = outbox.next_encoded(3)
    outbox.mark_synced(batch.uuids[1:2], [], [])
    assert states(store) == {1: "pending", 2: "synced", 3: "pending"}
