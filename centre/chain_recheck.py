"""`evaluator centre integrity --recheck`: every device's chain recounted from its raw rows and stored again,
one device per transaction (centre/chains.py keeps the chains at ingest and says what a chain holds)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from centre import chains

RECHECK_ATTEMPTS = 3     # a device's first batch may insert its row while the recheck inserts it too


@dataclass(frozen=True)
class Rechecked:
    devices: int
    ratings: int
    differed: list[chains.Differed]


Progress = Callable[[int, int, int], None]   # (devices checked, devices in all, ratings checked)


def recheck(engine: Engine, progress: Progress | None = None) -> Rechecked:
    """`evaluator centre integrity --recheck`: every device's chain recounted from its raw rows and stored,
    one device per transaction, holding off only that device's ingest meanwhile."""
    with engine.connect() as conn:
        ids = chains.chain_ids(conn)
    differed, checked = [], 0
    for done, device_id in enumerate(ids, start=1):
        held, found = _recheck_device(engine, device_id)
        checked += held
        if found is not None:
            differed.append(found)
        if progress is not None:
            progress(done, len(ids), checked)
    return Rechecked(len(ids), checked, differed)


def _recheck_device(engine: Engine, device_id: str) -> tuple[int, chains.Differed | None]:
    for attempt in range(RECHECK_ATTEMPTS):
        try:
            with engine.connect() as conn:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")   # the write lock before reading: no ingest between
                found = conn.execute(chains.LOCKED, {"device": device_id}).first()
                truth, differed = chains.replace_chain(conn, device_id, found)
                conn.commit()
                return truth.ratings_held, differed
        except IntegrityError:
            # The device's first batch stored its row after the lock found none: check it again, locked.
            if attempt == RECHECK_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
