"""Ratings to CSV for the unit's own records (a USB stick, a spreadsheet).

Read-only and streamed in seq order, so a five-year store exports in constant
memory; the file is written beside its target and renamed into place with an
fsync, so a stick pulled mid-export leaves no half file under the real name.
Nothing identifies a citizen: a rating row holds none of that.

The screen's export goes to a separate disk or nowhere: with no stick
mounted, the mount point is a plain folder on the SD card, and a CSV written
there would look like success while the stick the staff member takes away
stays empty. `evaluator export --out` writes where the technician says (a
file to copy off over SSH), and only warns.
"""
from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select

from contract import iso_utc
from kiosk.config import Settings
from kiosk.store import RatingStore
from kiosk.store.days import day_bounds
from kiosk.store.tables import rating_reasons, ratings

COLUMNS = ("seq", "uuid", "recorded_at_utc", "local_time", "level", "level_label", "bad", "reasons", "channel",
           "mode", "unit_id", "counter_id", "staff_id", "case_no", "item_code", "clock_suspect", "sync_state",
           "hash")
CHUNK = 2000
Progress = Callable[[int, int], None]   # (rows written, rows to write)


class NoStick(OSError):
    """The export's folder is on the terminal's own disk: no USB stick (or other disk) is mounted there."""

    def __init__(self, folder: Path):
        super().__init__(f"no USB stick mounted at {folder}: it is on the terminal's own disk (the ratings "
                         "store's or the system's); mount a stick there and export again")
        self.folder = folder


def on_own_disk(folder: Path, store_path: Path) -> bool:
    """Whether `folder` (or, while it does not exist yet, its nearest existing parent) lies on the filesystem
    holding the store or on the root filesystem: no USB stick (or other disk) is mounted there.

    The device ids are compared rather than asking os.path.ismount(folder): a file may go into a
    sub-folder of the stick, and a bind mount of the SD card is a mount point but no stick."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing.stat().st_dev in {store_path.absolute().parent.stat().st_dev, Path("/").stat().st_dev}


@dataclass(frozen=True)
class Exported:
    path: Path
    rows: int


def export_csv(store: RatingStore, settings: Settings, since: date, until: date, out: Path,
               progress: Progress | None = None, require_stick: bool = False) -> Exported:
    """Ratings recorded on the local days since…until (both included) → `out` (UTF-8 with BOM, for Excel).
    `require_stick`: NoStick, before anything is written, when `out` would land on the terminal's own disk
    (on_own_disk)."""
    if require_stick and on_own_disk(out.parent, store.path):
        raise NoStick(out.parent)
    zone = settings.unit.zone
    start, end = day_bounds(since, zone)[0], day_bounds(until, zone)[1]
    in_range = (ratings.c.recorded_at >= iso_utc(start)) & (ratings.c.recorded_at < iso_utc(end))
    with store.transaction(write=False) as conn:
        total = conn.execute(select(func.count()).select_from(ratings).where(in_range)).scalar_one()
    labels = {level.level: level.label(settings.locale) for level in settings.levels}
    bad = set(settings.bad_levels)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    written = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            after = 0
            while rows := _chunk(store, in_range, after):
                for row, codes in rows:
                    writer.writerow(_line(row, codes, zone, labels, bad))
                after = rows[-1][0]["seq"]
                written += len(rows)
                if progress is not None:
                    progress(written, total)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if progress is not None and total == 0:
        progress(0, 0)
    return Exported(out, written)


def _chunk(store: RatingStore, in_range: ColumnElement[bool], after_seq: int) -> list[tuple[dict[str, Any], list[str]]]:
    with store.transaction(write=False) as conn:
        rows = [dict(row._mapping) for row in conn.execute(
            select(ratings).where(in_range & (ratings.c.seq > after_seq)).order_by(ratings.c.seq).limit(CHUNK))]
        codes: dict[str, list[str]] = {}
        if rows:
            found = conn.execute(select(rating_reasons.c.rating_uuid, rating_reasons.c.code)
                                 .where(rating_reasons.c.rating_uuid.in_([row["uuid"] for row in rows]))
                                 .order_by(rating_reasons.c.id))
            for uuid, code in found:
                codes.setdefault(uuid, []).append(code)
    return [(row, codes.get(row["uuid"], [])) for row in rows]


def _line(row: dict[str, Any], codes: list[str], zone: ZoneInfo, labels: dict[int, str], bad: set[int]) -> list[object]:
    local = datetime.fromisoformat(row["recorded_at"]).astimezone(zone)
    return [row["seq"], row["uuid"], row["recorded_at"], local.strftime("%Y-%m-%d %H:%M:%S"), row["level"],
            labels.get(row["level"], ""), int(row["level"] in bad), " ".join(codes), row["channel"], row["mode"],
            row["unit_id"], row["counter_id"], row["staff_id"] or "", row["case_no"] or "",
            row["item_code"] or "", int(bool(row["clock_suspect"])), row["sync_state"], row["hash"]]
