"""The rating receipt (回执, /r): what became of one rating, told to whoever holds its signed receipt link.

What it tells, with no personal data and no staff name:
- whether the rating reached the centre: counted (its unit's local day, the unit, the level given); excluded
  from the scores (an appeal the city office upheld, or an integrity review), said plainly; received but not
  counted (recorded before its terminal was enrolled); or not received yet — terminals sync in batches — and,
  `PublicSettings.receipt_missing_after_h` after the first look-up, "not received";
- its case, if it has one, in plain words (opened, being handled, rectified, verified, closed), and once the
  office verified the rectification, what the unit changed (its measures, staff names and numbers masked);
- whether the citizen may give a verdict on the rectification here (rectified or verified, none recorded).

A look-up for a rating the centre does not hold is recorded in `receipt_misses` (first and last look-up, how
many): the office's signal that a rating may never have arrived. When the rating does arrive, `found_at` is set
to when it was received (by the next look-up or by the sweep `mark_found`); `signals` lists what the office
should look at: misses still open after the hours above, and ratings found only later than that.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, Insert, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from centre.cases import flow
from centre.cases.model import CaseState, EventKind, Verdict, VerdictSource
from centre.db.loop_tables import case_events, cases, rating_exclusions
from centre.db.public_tables import receipt_misses
from centre.db.tables import devices, ratings, staff, units
from centre.public.settings import PublicSettings
from centre.public.signed import Link
from centre.registry.model import check_timezone
from contract import iso_utc

VERDICT_STATES = frozenset({CaseState.RECTIFIED, CaseState.VERIFIED})   # where the receipt page asks for one
_SUMMARY_STATES = frozenset({CaseState.VERIFIED, CaseState.CLOSED})      # the rectification is the office's now
_DIGITS = re.compile(r"\d[\d\s-]{4,}\d")
STAFF_MASK = "（工作人员）"


class Arrival(str, Enum):
    COUNTED = "counted"
    EXCLUDED = "excluded"             # in the centre, out of the scores: an upheld appeal or an integrity review
    NOT_COUNTED = "not_counted"       # recorded before the terminal was enrolled: in no score
    NOT_YET = "not_yet"               # not at the centre yet; terminals sync in batches
    MISSING = "missing"               # still not at the centre after receipt_missing_after_h


class Stage(str, Enum):
    """A case's state in the citizen's words."""

    OPENED = "opened"
    HANDLING = "handling"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"


_STAGES = {CaseState.NEW: Stage.OPENED, CaseState.ASSIGNED: Stage.HANDLING, CaseState.CONTACTED: Stage.HANDLING,
           CaseState.RECTIFIED: Stage.RECTIFIED, CaseState.VERIFIED: Stage.VERIFIED, CaseState.CLOSED: Stage.CLOSED}


class Given(str, Enum):
    """What became of a verdict given on the receipt page."""

    RECORDED = "recorded"
    ALREADY = "already"               # the case has a verdict (from this page or the call-back): one only
    NOT_ASKED = "not_asked"           # no case, or not rectified yet: nothing to give a verdict on


@dataclass(frozen=True)
class CaseView:
    stage: Stage
    excluded_on_appeal: bool
    measures: str | None              # once verified: what the unit changed, names and numbers masked
    verdict: Verdict | None
    may_give_verdict: bool


@dataclass(frozen=True)
class Receipt:
    arrival: Arrival
    unit_name: str | None             # the rating's unit, or the terminal's while the rating is not here
    unit_name_en: str | None
    day: date | None                  # the unit's local day of the rating
    level: int | None
    excluded_by: str | None           # "appeal" or "review" when EXCLUDED
    waiting_since: datetime | None    # NOT_YET / MISSING: the first look-up
    case: CaseView | None


def look_up(engine: Engine, link: Link, now: datetime, settings: PublicSettings) -> Receipt:
    """The receipt of the link's rating now; a miss is recorded (see the module)."""
    with engine.begin() as conn:
        rating = conn.execute(select(ratings).where(ratings.c.uuid == link.rating_uuid)).mappings().first()
        if rating is None:
            return _missing(conn, link, now, settings)
        open_miss = and_(receipt_misses.c.rating_uuid == link.rating_uuid, receipt_misses.c.found_at.is_(None))
        if conn.execute(select(receipt_misses.c.lookups).where(open_miss)).first() is not None:
            conn.execute(update(receipt_misses).where(open_miss).values(found_at=rating["received_at"]))
        return _held(conn, rating)


def _missing(conn: Connection, link: Link, now: datetime, settings: PublicSettings) -> Receipt:
    at = iso_utc(now)
    conn.execute(_upsert(conn).values(rating_uuid=link.rating_uuid, device_id=link.device_id, first_at=at,
                                      last_at=at, lookups=1, found_at=None))
    first = conn.execute(select(receipt_misses.c.first_at)
                         .where(receipt_misses.c.rating_uuid == link.rating_uuid)).scalar_one()
    since = datetime.fromisoformat(first)
    late = now - since >= timedelta(hours=settings.receipt_missing_after_h)
    device = conn.execute(select(devices.c.unit_id, devices.c.unit_name, devices.c.unit_name_en)
                          .where(devices.c.id == link.device_id)).first()
    names = _unit_names(conn, device.unit_id) if device is not None else (None, None)
    return Receipt(arrival=Arrival.MISSING if late else Arrival.NOT_YET, unit_name=names[0], unit_name_en=names[1],
                   day=None, level=None, excluded_by=None, waiting_since=since, case=None)


def _upsert(conn: Connection) -> Insert:
    """A first look-up inserts the miss; a later one counts it (two at once: both counted, one row)."""
    insert = postgresql.insert(receipt_misses) if conn.dialect.name == "postgresql" else sqlite.insert(receipt_misses)
    return insert.on_conflict_do_update(index_elements=["rating_uuid"], set_={
        "lookups": receipt_misses.c.lookups + 1, "last_at": insert.excluded.last_at})


def _unit_names(conn: Connection, unit_id: str) -> tuple[str | None, str | None]:
    row = conn.execute(select(units.c.name, units.c.name_en).where(units.c.id == unit_id)).first()
    if row is None:
        row = conn.execute(select(devices.c.unit_name.label("name"), devices.c.unit_name_en.label("name_en"))
                           .where(devices.c.unit_id == unit_id).limit(1)).first()
    return (row.name, row.name_en) if row is not None else (None, None)


def _held(conn: Connection, rating: Any) -> Receipt:
    unit = rating["placed_unit_id"]
    name, name_en = _unit_names(conn, unit)
    zone = conn.execute(select(units.c.timezone).where(units.c.id == unit)).scalar() or \
        conn.execute(select(devices.c.unit_timezone).where(devices.c.id == rating["delivered_by"])).scalar()
    day = datetime.fromisoformat(rating["counted_at"]).astimezone(check_timezone(zone or "Asia/Shanghai")).date()
    exclusion = conn.execute(select(rating_exclusions.c.case_id, rating_exclusions.c.flag_id)
                             .where(rating_exclusions.c.rating_uuid == rating["uuid"])).first()
    arrival, excluded_by = Arrival.COUNTED, None
    if exclusion is not None:
        arrival, excluded_by = Arrival.EXCLUDED, ("appeal" if exclusion.case_id is not None else "review")
    elif rating["before_enrollment"]:
        arrival = Arrival.NOT_COUNTED
    return Receipt(arrival=arrival, unit_name=name, unit_name_en=name_en, day=day, level=rating["level"],
                   excluded_by=excluded_by, waiting_since=None, case=_case(conn, rating["uuid"], unit))


def _case(conn: Connection, rating_uuid: str, unit_id: str) -> CaseView | None:
    case = conn.execute(select(cases).where(cases.c.rating_uuid == rating_uuid)).mappings().first()
    if case is None:
        return None
    state = CaseState(case["state"])
    measures = None
    if state in _SUMMARY_STATES:
        last = conn.execute(select(case_events.c.detail).where(
            case_events.c.case_id == case["id"], case_events.c.kind == EventKind.RECTIFIED.value)
            .order_by(case_events.c.id.desc()).limit(1)).scalar()
        if isinstance(last, dict) and last.get("measures"):
            measures = without_names(conn, unit_id, str(last["measures"]))
    verdict = Verdict(case["verdict"]) if case["verdict"] else None
    return CaseView(stage=_STAGES[state], excluded_on_appeal=case["appeal"] == "upheld", measures=measures,
                    verdict=verdict, may_give_verdict=state in VERDICT_STATES and verdict is None)


def without_names(conn: Connection, unit_id: str, text: str) -> str:
    """`text` with the unit's staff (every member, past ones too: names in both languages, 工号) and any run of
    digits masked: what the public may read of a rectification."""
    words: set[str] = set()
    for row in conn.execute(select(staff.c.id, staff.c.name, staff.c.name_en).where(staff.c.unit_id == unit_id)):
        words.update(word for word in (row.id, row.name, row.name_en) if word and len(word.strip()) >= 2)
    for word in sorted(words, key=len, reverse=True):
        text = re.sub(re.escape(word), STAFF_MASK, text, flags=re.IGNORECASE)
    return _DIGITS.sub("＊＊＊", text)


def give_verdict(engine: Engine, link: Link, verdict: Verdict, now: datetime) -> Given:
    """The citizen's verdict on the rectification of the link's rating's case: one only, whoever gave it."""
    with engine.begin() as conn:
        case = conn.execute(select(cases.c.id, cases.c.state, cases.c.verdict)
                            .where(cases.c.rating_uuid == link.rating_uuid)).first()
        if case is None or CaseState(case.state) not in VERDICT_STATES:
            return Given.ALREADY if case is not None and case.verdict else Given.NOT_ASKED
        # Claimed with a guarded update first: of two verdicts sent at once, the second finds one recorded.
        claimed = conn.execute(update(cases).where(and_(cases.c.id == case.id, cases.c.verdict.is_(None)))
                               .values(verdict=Verdict(verdict).value))
        if claimed.rowcount != 1:
            return Given.ALREADY
        flow.record_verdict(conn, case.id, None, verdict=verdict, source=VerdictSource.RECEIPT, now=now)
    return Given.RECORDED


def mark_found(engine: Engine, now: datetime) -> int:
    """The sweep: set `found_at` (when the rating was received) on each miss whose rating has arrived since."""
    received = select(ratings.c.received_at).where(ratings.c.uuid == receipt_misses.c.rating_uuid) \
        .scalar_subquery()
    with engine.begin() as conn:
        done = conn.execute(update(receipt_misses).where(and_(
            receipt_misses.c.found_at.is_(None),
            select(ratings.c.pk).where(ratings.c.uuid == receipt_misses.c.rating_uuid).exists()))
            .values(found_at=received))
    return int(done.rowcount or 0)


@dataclass(frozen=True)
class Miss:
    rating_uuid: str
    device_id: str
    first_at: str
    last_at: str
    lookups: int
    found_at: str | None              # None: still not at the centre


def signals(conn: Connection, now: datetime, settings: PublicSettings) -> list[Miss]:
    """What the office should look at: receipts looked up for a rating the centre did not hold for longer than
    `receipt_missing_after_h` (still missing, or found only later than that), oldest first."""
    hours = timedelta(hours=settings.receipt_missing_after_h)
    rows = conn.execute(select(receipt_misses).where(or_(
        and_(receipt_misses.c.found_at.is_(None), receipt_misses.c.first_at <= iso_utc(now - hours)),
        receipt_misses.c.found_at.is_not(None))).order_by(receipt_misses.c.first_at)).mappings()
    found = [Miss(row["rating_uuid"], row["device_id"], row["first_at"], row["last_at"], row["lookups"],
                  row["found_at"]) for row in rows]
    return [miss for miss in found if miss.found_at is None or
            datetime.fromisoformat(miss.found_at) - datetime.fromisoformat(miss.first_at) >= hours]
