"""A service item code (事项编码) from the counter link to the centre, through real processes: `evaluator provision`
enrolls a terminal at a real centre (`centre serve`), `evaluator run --headless` takes `C case-1 S01
11010100000000001` and a press from a panel simulated on a pty (`evaluator panel-sim`), and the real uploader
(`evaluator sync --once`) sends the rating. A case without an item code goes the same way, with none. The
push worker then maps it and uploads it, signed, to the reference receiver (a real process): the province's
record carries the code as its 事项编码."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import select, update

from centre import enroll
from centre.db.engine import open_engine
from centre.db.tables import device_chains, ratings, units
from centre.province.mapping import load_mapping
from centre.province.upload import Signing
from contract import rating_hash
from evaluator.terminal import open_store
from kiosk.config import load
from tests.centre.conftest import register, start_centre
from tests.province import pushkit
from tests.province.craft import CREDIT, REGION
from tests.terminalkit import evaluator, pressed_on_the_panel, synced

ITEM = "11010100000000001"


def test_an_item_code_sent_with_the_case_reaches_the_centre_with_its_rating(sqlite_db: str, tmp_path: Path) -> None:
    engine = open_engine(sqlite_db, create=False)
    register(engine, "u-item", "c-1")
    with start_centre(sqlite_db) as centre:
        config = tmp_path / "config.yaml"
        config.write_text("mode: solicited\nsync: {connect_timeout_s: 5, read_timeout_s: 10}\n", encoding="utf-8")
        done = evaluator(config, "provision", "--server", centre.url, "--code",
                         enroll.create_code(engine, "u-item", "c-1"))
        assert done.returncode == 0, done.stderr
        # On the wire: `C case-1 S01 11010100000000001`, then `C case-2 S01` (a frame as before).
        pressed_on_the_panel(config, f"C case-1@S01@{ITEM} K1 C case-2@S01 K2", "K2 → level 4 counted")
        store = open_store(load(config), migrate=False)
        try:
            held = {row["case_no"]: row for row in store.recent_ratings(2)}
            assert store.verify().ok
        finally:
            store.close()
        assert (held["case-1"]["item_code"], held["case-2"]["item_code"]) == (ITEM, None)
        synced(config, accepted=2)
    with engine.connect() as conn:
        stored = {row.case_no: row for row in conn.execute(
            select(ratings.c.case_no, ratings.c.staff_id, ratings.c.item_code, ratings.c.level, ratings.c.hash,
                   ratings.c.device_id))}
        chain = conn.execute(select(device_chains).where(device_chains.c.device_id == stored["case-1"].device_id)
                             ).mappings().one()
    assert (stored["case-1"].item_code, stored["case-1"].staff_id, stored["case-1"].level) == (ITEM, "S01", 5)
    assert stored["case-2"].item_code is None
    assert {case: row.hash for case, row in stored.items()} == {case: row["hash"] for case, row in held.items()}
    # The centre recomputed both hashes, the one over the item code and the one without it: no break.
    assert chain["ratings_held"] == 2 and chain["chain_breaks"] == [] and chain["gaps"] == []
    without = {name: value for name, value in held["case-2"].items() if name not in ("item_code", "sync_state",
                                                                                      "sync_note")}
    assert rating_hash({**without, "clock_suspect": bool(without["clock_suspect"])}) == held["case-2"]["hash"]

    # To the province: the unit's codes registered, the records made and pushed to the reference receiver.
    with engine.begin() as conn:
        conn.execute(update(units).where(units.c.id == "u-item").values(credit_code=CREDIT, region_code=REGION))
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    with pushkit.receiver(tmp_path / "province", keys) as province:
        pushkit.push_until_settled(engine, pushkit.job(province.url, keys))
        with sqlite3.connect(province.db) as db:
            received = {case: json.loads(fields) for case, fields in db.execute("SELECT case_no, fields FROM received")}
    engine.dispose()
    names = load_mapping(None).fields
    assert received["case-1"][names.item_code] == ITEM
    assert received["case-1"][names.case_no] == "case-1" and received["case-1"][names.staff] == "S01"
    assert names.item_code not in received["case-2"]       # a field with nothing to hold is left out
