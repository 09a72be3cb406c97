"""What the case tests share: a real database (SQLite file; PostgreSQL when EVALUATOR_TEST_PG_URL is set), units
in two districts with enrolled terminals, batches put through the real ingest in-process, and the actors of
each role. The ingest and the call-backs are the centre's own functions, on the same database the server uses.
"""
from __future__ import annotations

import time
import uuid as uuid_mod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from centre import enroll
from centre.api.auth import Nonce
from centre.cases.model import Actor, ActorRole
from centre.db.engine import open_engine
from centre.db.loop_tables import case_events, cases
from centre.db.tables import counters, metadata, units
from centre.ingest import ingest
from centre.registry import queries
from centre.registry.model import CounterSpec, UnitSpec
from contract import EnrollRequest, canonical_json, iso_utc, rating_hash

# Monday 2 March 2026, 10:00 in Shanghai: an ordinary working week (no holiday until 清明, 4–6 April).
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
EAST, WEST = "东区", "西区"


_sqlite: dict[str, Engine] = {}


def engine_fixture() -> Any:
    """The fixture `engine` of a test module (`engine_on_each_backend = casekit.engine_fixture()`): an empty
    database at the code's schema, on SQLite, and on PostgreSQL when EVALUATOR_TEST_PG_URL is set."""

    @pytest.fixture(params=["sqlite", "postgresql"], name="engine")
    def fixture(request: pytest.FixtureRequest) -> Engine:
        if request.param == "sqlite":
            if "engine" not in _sqlite:      # one file for the session: building the schema takes a second
                folder = request.getfixturevalue("tmp_path_factory").mktemp("cases")
                _sqlite["engine"] = open_engine(f"sqlite:///{folder / 'centre.db'}")
            found = _sqlite["engine"]
        else:
            found = request.getfixturevalue("pg_engine")
        with found.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        return found

    return fixture


@dataclass
class Terminal:
    """A device's side, in-process: its chain and its row ids."""

    engine: Engine
    device_id: str
    unit_id: str
    counter_id: str
    seq: int = 0
    last_hash: str = "0" * 64
    row_id: int = 0

    def rating(self, level: int, at: datetime = MONDAY, staff: str | None = "s-1") -> dict[str, Any]:
        self.seq += 1
        fields = {"uuid": str(uuid_mod.uuid4()), "seq": self.seq, "device_id": self.device_id,
                  "unit_id": self.unit_id, "counter_id": self.counter_id, "staff_id": staff, "case_no": None,
                  "level": level, "channel": "touch", "mode": "open", "recorded_at": iso_utc(at),
                  "mono_ns": self.seq, "boot_id": "b", "clock_suspect": False, "app_version": "0.1.0",
                  "prev_hash": self.last_hash}
        fields["hash"] = self.last_hash = rating_hash(fields)
        return fields

    def reason(self, rating: dict[str, Any], code: str = "slow") -> dict[str, Any]:
        self.row_id += 1
        return {"id": self.row_id, "rating_uuid": rating["uuid"], "code": code, "recorded_at": rating["recorded_at"]}

    def batch(self, ratings: list[dict[str, Any]], reasons: list[dict[str, Any]] | None = None,
              sent_at: datetime = MONDAY) -> dict[str, Any]:
        return {"protocol": 1, "device_id": self.device_id, "sent_at": iso_utc(sent_at), "ratings": ratings,
                "reasons": reasons or [], "events": []}

    def send(self, batch: dict[str, Any], received: datetime = MONDAY) -> dict[str, Any]:
        nonce = Nonce(self.device_id, uuid_mod.uuid4().hex, int(time.time()))
        return ingest(self.engine, self.device_id, canonical_json(batch), received=received,
                      nonce=nonce).model_dump()

    def rate(self, level: int, at: datetime = MONDAY, reasons: tuple[str, ...] = ("slow",)) -> str:
        """One rating sent and received at `at`; its uuid."""
        rating = self.rating(level, at)
        self.send(self.batch([rating], [self.reason(rating, code) for code in reasons] if level <= 2 else []),
                  received=at)
        return str(rating["uuid"])


def terminal(engine: Engine, unit: str, district: str = EAST, zone: str = "Asia/Shanghai") -> Terminal:
    """A unit (registered in `district`) with one enrolled terminal at counter c-1."""
    with engine.begin() as conn:
        queries.save(conn, [UnitSpec(id=unit, name=unit, name_en=None, district=district, district_en=None,
                                     sector="education", timezone=zone)],
                     [CounterSpec(unit_id=unit, id="c-1", name="c-1", name_en=None)])
        assert conn.execute(select(counters.c.id).where(counters.c.unit_id == unit)).first()
    code = enroll.create_code(engine, unit, "c-1")
    device_id = enroll.enroll(engine, EnrollRequest(code=code, app_version="0.1.0")).device_id
    return Terminal(engine, device_id, unit, "c-1")


def district_id(engine: Engine, unit: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(units.c.district_id).where(units.c.id == unit)).scalar_one())


def actors(engine: Engine, unit: str) -> dict[str, Actor]:
    """The unit's manager, its district office, the city office and an auditor."""
    return {"unit": Actor("manager", ActorRole.UNIT, (unit,)),
            "district": Actor("district-officer", ActorRole.DISTRICT, (district_id(engine, unit),)),
            "city": Actor("city-officer", ActorRole.CITY),
            "auditor": Actor("auditor", ActorRole.AUDITOR)}


def case_of(engine: Engine, rating_uuid: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(cases).where(cases.c.rating_uuid == rating_uuid)).mappings().one())


def snapshot(engine: Engine, case_id: int) -> tuple[dict[str, Any], int]:
    """The case's summary and its number of events: what a refused step must leave as it was."""
    with engine.connect() as conn:
        row = dict(conn.execute(select(cases).where(cases.c.id == case_id)).mappings().one())
        count = len(conn.execute(select(case_events.c.id).where(case_events.c.case_id == case_id)).all())
    return row, count


def kinds(engine: Engine, case_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(case_events.c.kind).where(case_events.c.case_id == case_id)
                                 .order_by(case_events.c.id)).scalars())
