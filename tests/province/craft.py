"""Crafted centre rows for the record tests: a registered unit with its codes, an enrolled device, and ratings,
reasons, unrated requests and exclusions written as the ingest would store them (the ingest itself is tested
in tests/centre; here what matters is what a stored row maps to)."""
from __future__ import annotations

import uuid as uuid_mod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from centre.db.loop_tables import rating_exclusions
from centre.db.tables import devices, events, ratings, reasons
from centre.registry import queries
from centre.registry.codes import credit_check_char
from centre.registry.model import CounterSpec, UnitSpec
from contract import iso_utc

CREDIT = "11339901MB0120345" + credit_check_char("11339901MB0120345")
REGION = "339901"
AT = datetime(2026, 3, 2, 1, 15, 6, tzinfo=UTC)        # 09:15:06 in Asia/Shanghai
AT_LOCAL = "2026-03-02 09:15:06"
NOW = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)
ENROLLED = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass
class Craft:
    engine: Engine
    seq: int = 0
    events_made: int = 0

    def unit(self, unit_id: str = "u-1", *, credit: str | None = CREDIT, region: str | None = REGION,
             timezone: str = "Asia/Shanghai") -> None:
        spec = UnitSpec(id=unit_id, name=unit_id, name_en=None, district="测试区", district_en=None,
                        sector="education", timezone=timezone, credit_code=credit, region_code=region)
        with self.engine.begin() as conn:
            queries.save(conn, [spec], [CounterSpec(unit_id=unit_id, id="c-1", name="1号窗口", name_en=None)])

    def device(self, device_id: str = "dev-1", unit_id: str = "u-1", *, timezone: str = "Asia/Shanghai") -> None:
        with self.engine.begin() as conn:
            conn.execute(devices.insert().values(id=device_id, secret="s" * 32, unit_id=unit_id, unit_name=unit_id,
                                                 unit_timezone=timezone, counter_id="c-1", counter_name="1号窗口",
                                                 staff=[], enrolled_at=iso_utc(ENROLLED)))

    def rating(self, level: int = 5, **fields: Any) -> str:
        """One stored rating (`_row`'s fields); its uuid."""
        uuid, row = self._row(level, **fields)
        with self.engine.begin() as conn:
            conn.execute(ratings.insert().values(**row))
        return uuid

    def ratings(self, specs: list[dict[str, Any]]) -> list[str]:
        """Many, in one transaction."""
        made = [self._row(**spec) for spec in specs]
        with self.engine.begin() as conn:
            conn.execute(ratings.insert(), [row for _, row in made])
        return [uuid for uuid, _ in made]

    def _row(self, level: int = 5, *, device: str = "dev-1", unit: str = "u-1", case_no: str | None = None,
             item_code: str | None = None, staff_id: str | None = "s-1", mode: str = "solicited",
             channel: str = "touch", at: datetime = AT, received: datetime | None = None, pk: int | None = None,
             **centre: Any) -> tuple[str, dict[str, Any]]:
        self.seq += 1
        uuid = str(uuid_mod.uuid4())
        row = {"uuid": uuid, "seq": self.seq, "device_id": device, "unit_id": unit, "counter_id": "c-1",
               "staff_id": staff_id, "case_no": case_no, "item_code": item_code, "level": level, "channel": channel,
               "mode": mode, "recorded_at": iso_utc(at), "mono_ns": self.seq, "boot_id": "b", "clock_suspect": False,
               "app_version": "0.1.0", "prev_hash": "0" * 64, "hash": f"{self.seq:064x}", "delivered_by": device,
               "placed_unit_id": unit, "placed_counter_id": "c-1", "before_enrollment": False,
               "placement_differs": False, "received_at": iso_utc(received or at + timedelta(minutes=1)),
               "sent_at": iso_utc(at), "counted_at": iso_utc(at), "clock_corrected": False, "conflict": False,
               **centre}
        if pk is not None:
            row["pk"] = pk
        return uuid, row

    def reasons(self, rating_uuid: str, *codes: str, device: str = "dev-1", received: datetime = AT) -> None:
        with self.engine.begin() as conn:
            first = conn.execute(select(func.coalesce(func.max(reasons.c.id), 0))).scalar_one() + 1
            conn.execute(reasons.insert(), [{"device_id": device, "id": first + n, "rating_uuid": rating_uuid,
                                             "code": code, "recorded_at": iso_utc(AT),
                                             "received_at": iso_utc(received)} for n, code in enumerate(codes)])

    def unrated(self, *, device: str = "dev-1", case_no: str | None = None, staff_id: str | None = "s-1",
                item_code: str | None = None, at: datetime = AT) -> int:
        self.events_made += 1
        detail = {key: value for key, value in (("case_no", case_no), ("staff_id", staff_id),
                                                ("item_code", item_code), ("source", "pc")) if value is not None}
        with self.engine.begin() as conn:
            conn.execute(events.insert().values(device_id=device, id=self.events_made, kind="unrated",
                                                recorded_at=iso_utc(at), mono_ns=1, boot_id="b", detail=detail,
                                                received_at=iso_utc(at + timedelta(minutes=1)),
                                                counted_at=iso_utc(at)))
        return self.events_made

    def exclude(self, rating_uuid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(rating_exclusions.insert().values(rating_uuid=rating_uuid, decided_at=iso_utc(NOW),
                                                           decided_by="office", reason="upheld appeal"))
