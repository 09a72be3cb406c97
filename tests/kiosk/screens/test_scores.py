"""Staff scores on a real SQLite store whose clock the test sets: per staff, per local day, the screen model."""
from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from kiosk.config import Locale
from kiosk.rating import scoring
from kiosk.screens.scores import build_scores
from kiosk.store import SCHEMA_HEAD, Identity, RatingStore
from kiosk.store.outbox import Outbox
from kiosk.store.status import SYNC_STATUS_FILE
from kiosk.store.tables import Channel, EventKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
BAD = frozenset({1, 2})
# 2026-11-25 in Shanghai runs from 2026-11-24T16:00Z to 2026-11-25T16:00Z.
MIDNIGHT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
DAY, EVE = date(2026, 11, 25), date(2026, 11, 24)
ROSTER = {"staff": [{"id": "E1", "name": "李明", "name_en": "Li Ming"}, {"id": "E2", "name": "王芳"},
                    {"id": "E3", "name": "张伟"}]}


class SetClock:
    """The store's wall clock: whatever the test last set."""

    def __init__(self) -> None:
        self.now = MIDNIGHT

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
def settings(make_settings, tmp_path):
    return make_settings(**ROSTER, sync={"state_dir": str(tmp_path / "sync")})


@pytest.fixture
def store(settings, clock):
    opened = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id),
                         clock=clock)
    yield opened
    opened.close()


def rate(store: RatingStore, clock: SetClock, at: datetime, level: int, staff_id: str | None = None,
         reasons: tuple[str, ...] = ()) -> None:
    clock.now = at
    rating = store.append_rating(level, Channel.PANEL, "open", staff_id=staff_id)
    store.add_reasons(rating.uuid, list(reasons))


def unrated(store: RatingStore, clock: SetClock, at: datetime, staff_id: str | None) -> None:
    clock.now = at
    store.record_event(EventKind.UNRATED, case_no=None, staff_id=staff_id, source="staff_key")


@pytest.fixture
def around_midnight(store, clock):
    """Ratings either side of Shanghai's midnight starting 2026-11-25; the last microsecond of the 24th counts there."""
    before = MIDNIGHT - timedelta(microseconds=1)
    rate(store, clock, before, 1, "E1", ("slow",))                       # 24th, local 23:59:59.999999
    rate(store, clock, before - timedelta(hours=3), 5, "E2")             # 24th
    rate(store, clock, MIDNIGHT, 5, "E1")                                # 25th, local 00:00 exactly
    rate(store, clock, MIDNIGHT + timedelta(hours=2), 4, "E1")
    rate(store, clock, MIDNIGHT + timedelta(hours=3), 2, "E1", ("wait", "attitude"))
    rate(store, clock, MIDNIGHT + timedelta(hours=4), 3, "E2")
    rate(store, clock, MIDNIGHT + timedelta(hours=5), 5, None)           # nobody signed in
    rate(store, clock, MIDNIGHT + timedelta(hours=24) - timedelta(microseconds=1), 1, "E2")   # last of the 25th
    rate(store, clock, MIDNIGHT + timedelta(hours=24), 5, "E2")          # 26th
    unrated(store, clock, MIDNIGHT + timedelta(hours=6), "E2")
    unrated(store, clock, MIDNIGHT + timedelta(hours=7), "E3")           # E3 only left a request unrated
    unrated(store, clock, MIDNIGHT - timedelta(hours=1), "E1")           # 24th
    clock.now = MIDNIGHT + timedelta(hours=8)
    store.record_event(EventKind.SUPPRESSED, level=5, channel="panel", why="cooldown")
    return store


def by_staff(rows):
    return {row.staff_id: row for row in rows}


def test_staff_table_counts_each_staff_member_in_the_local_day(around_midnight):
    rows = scoring.staff_table(around_midnight, DAY, SHANGHAI, BAD)
    table = by_staff(rows)
    assert set(table) == {"E1", "E2", "E3", None}
    e1, e2, e3, nobody = table["E1"], table["E2"], table["E3"], table[None]
    assert e1.by_level == {5: 1, 4: 1, 3: 0, 2: 1, 1: 0} and e1.total == 3 and e1.bad == 1
    assert e1.good_rate == pytest.approx(2 / 3) and e1.unrated == 0
    assert e2.by_level == {5: 0, 4: 0, 3: 1, 2: 0, 1: 1} and e2.bad == 1 and e2.good_rate == 0.5 and e2.unrated == 1
    assert e3.total == 0 and e3.good_rate is None and e3.unrated == 1
    assert nobody.by_level[5] == 1 and nobody.good_rate == 1.0
    assert [row.staff_id for row in rows] == ["E1", "E2", "E3", None]   # most ratings first, nobody last

    eve = by_staff(scoring.staff_table(around_midnight, EVE, SHANGHAI, BAD))
    assert eve["E1"].by_level[1] == 1 and eve["E1"].total == 1 and eve["E1"].unrated == 1
    assert eve["E2"].by_level[5] == 1 and set(eve) == {"E1", "E2"}


def test_staff_totals_add_up_to_the_day_summary(around_midnight):
    rows = scoring.staff_table(around_midnight, DAY, SHANGHAI, BAD)
    summary = scoring.summarize_day(around_midnight, DAY, SHANGHAI, BAD)
    assert {level: sum(row.by_level[level] for row in rows) for level in scoring.LEVELS} == summary.by_level
    assert sum(row.unrated for row in rows) == summary.unrated


def count_statements(store: RatingStore) -> list[str]:
    """The SQL the store sends (BEGIN/COMMIT go straight to the driver and are not seen)."""
    seen: list[str] = []
    event.listen(store._engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: seen.append(statement))
    return seen


def test_trend_is_one_point_per_local_day_with_gaps_from_one_query(around_midnight):
    statements = count_statements(around_midnight)
    points = scoring.trend(around_midnight, date(2026, 11, 26), 30, SHANGHAI, BAD)
    assert len(statements) == 1
    assert len(points) == 30
    assert [p.date for p in points] == [date(2026, 10, 28) + timedelta(days=i) for i in range(30)]
    eve, day, last = points[-3:]
    assert eve.by_level == {5: 1, 4: 0, 3: 0, 2: 0, 1: 1} and eve.good_rate == 0.5
    assert day.by_level == {5: 2, 4: 1, 3: 1, 2: 1, 1: 1} and day.good_rate == pytest.approx(4 / 6)
    assert last.by_level == {5: 1, 4: 0, 3: 0, 2: 0, 1: 0} and last.good_rate == 1.0
    assert all(p.total == 0 and p.good_rate is None for p in points[:-3])   # empty days are gaps, not zeros
    assert day == scoring.trend(around_midnight, DAY, 1, SHANGHAI, BAD)[0]


def test_trend_follows_days_of_23_and_25_hours(make_settings, tmp_path, clock):
    # Berlin: 2026-03-29 has 23 hours, 2026-10-25 has 25; a rating late on each stays in its day.
    berlin = ZoneInfo("Europe/Berlin")
    store = RatingStore(tmp_path / "dst.db", Identity("d", "u", "c"), clock=clock)
    try:
        for day in (date(2026, 3, 29), date(2026, 10, 25)):
            rate(store, clock, datetime(day.year, day.month, day.day, 23, 30, tzinfo=berlin), 5)
            rate(store, clock, datetime(day.year, day.month, day.day, 0, 30, tzinfo=berlin), 1)
        for day in (date(2026, 3, 29), date(2026, 10, 25)):
            points = scoring.trend(store, day + timedelta(days=1), 3, berlin, BAD)
            assert [p.total for p in points] == [0, 2, 0], day
            assert points[1].good_rate == 0.5
    finally:
        store.close()


def test_build_scores_matches_the_day_summary(settings, around_midnight):
    model = build_scores(settings, around_midnight, Locale.ZH, signed_in="E2", today=DAY)
    summary = scoring.summarize_day(around_midnight, DAY, settings.unit.zone, settings.bad_levels)
    assert model.date == DAY and model.total == summary.total == 6
    assert {level.level: level.count for level in model.by_level} == summary.by_level
    assert [level.label for level in model.by_level] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert model.by_level[0].rgba == settings.level(5).rgba and [lv.bad for lv in model.by_level][-2:] == [True, True]
    assert model.good_rate == summary.good_rate and model.good_rate_text == "66.7 %"
    assert model.target == 0.8 and model.meets_target is False and model.target_text == "80 %"
    assert (model.unrated, model.suppressed, model.bad_total) == (summary.unrated, summary.suppressed, 2) == (2, 1, 2)
    assert model.reason_counts == (("服务态度差", 1), ("等候时间长", 1))
    assert model.texts["good_rate"] == "好评率" and model.texts["trend"] == "近30天好评率"
    assert len(model.trend) == 30 and model.trend[-1].total == summary.total


def test_bad_reviews_newest_first_in_local_time_with_reason_labels(settings, around_midnight):
    reviews = build_scores(settings, around_midnight, Locale.ZH, None, today=DAY).bad_reviews
    assert [(r.time, r.level_label, r.reasons, r.staff_name) for r in reviews] == [
        ("23:59", "非常不满意", (), "王芳"),
        ("03:00", "不满意", ("等候时间长", "服务态度差"), "李明"),   # in the order the citizen ticked them
    ]
    english = build_scores(settings, around_midnight, Locale.EN, None, today=DAY).bad_reviews
    assert english[1].reasons == ("Long wait", "Unfriendly service") and english[1].staff_name == "Li Ming"
    assert len(build_scores(settings, around_midnight, Locale.ZH, None, today=DAY, bad_limit=1).bad_reviews) == 1


def test_the_signed_in_staff_member_is_highlighted(settings, around_midnight):
    staff = build_scores(settings, around_midnight, Locale.ZH, signed_in="E2", today=DAY).staff
    assert [(line.name, line.highlighted) for line in staff] == [
        ("李明", False), ("王芳", True), ("张伟", False), ("未签到", False)]
    assert staff[1].good_rate_text == "50.0 %" and staff[2].good_rate_text == "—"
    nobody = build_scores(settings, around_midnight, Locale.ZH, signed_in=None, today=DAY).staff
    assert not any(line.highlighted for line in nobody)


def test_a_signed_in_member_without_ratings_still_finds_a_line(settings, around_midnight):
    staff = build_scores(settings, around_midnight, Locale.EN, signed_in="E9", today=DAY).staff
    line = staff[0]
    assert (line.staff_id, line.name, line.total, line.good_rate, line.highlighted) == ("E9", "E9", 0, None, True)
    assert sum(line.highlighted for line in staff) == 1


def test_an_empty_day_has_no_rate_and_thirty_gaps(settings, store):
    model = build_scores(settings, store, Locale.ZH, None, today=DAY)
    assert model.total == 0 and model.good_rate is None and model.good_rate_text == "—"
    assert model.meets_target is None and model.staff == () and model.bad_reviews == ()
    assert len(model.trend) == 30 and all(point.good_rate is None for point in model.trend)


def test_target_is_a_parameter(settings, around_midnight):
    model = build_scores(settings, around_midnight, Locale.ZH, None, today=DAY, target=0.5)
    assert model.meets_target is True and model.target_text == "50 %"


def test_sync_part_reads_the_queue_and_the_workers_status_file(make_settings, tmp_path, around_midnight):
    settings = make_settings(**ROSTER, sync={"state_dir": str(tmp_path / "sync"), "server": "https://centre.test"})
    first = build_scores(settings, around_midnight, Locale.ZH, None, today=DAY).sync
    assert first.configured and first.queue_depth == 9 and first.last_success_at is None
    assert first.last_success_text == "从未"

    pending = Outbox(around_midnight).next_batch(4)
    Outbox(around_midnight).mark_synced([row["uuid"] for row in pending.ratings], [], [])
    (tmp_path / "sync").mkdir()
    (tmp_path / "sync" / SYNC_STATUS_FILE).write_text(json.dumps({"last_success_at": "2026-11-25T01:02:03+00:00"}))
    sync = build_scores(settings, around_midnight, Locale.ZH, None, today=DAY).sync
    assert sync.queue_depth == 5
    assert sync.last_success_at == datetime(2026, 11, 25, 9, 2, 3, tzinfo=SHANGHAI)
    assert sync.last_success_text == "11-25 09:02"


def test_a_garbled_status_file_reads_as_never(settings, tmp_path, around_midnight):
    (tmp_path / "sync").mkdir()
    (tmp_path / "sync" / SYNC_STATUS_FILE).write_text(json.dumps({"last_success_at": "yesterday"}))
    sync = build_scores(settings, around_midnight, Locale.EN, None, today=DAY).sync
    assert sync.last_success_at is None and sync.last_success_text == "Upload not set up"


def test_a_days_unrated_count_seeks_the_kind_and_time_index(settings, around_midnight):
    """Without statistics SQLite would walk every unrated event ever recorded (33 ms on five years)."""
    sent: list[tuple[str, object]] = []
    event.listen(around_midnight._engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, parameters, *_rest: sent.append((statement, parameters)))
    scoring.summarize_day(around_midnight, DAY, SHANGHAI, BAD)
    scoring.staff_table(around_midnight, DAY, SHANGHAI, BAD)
    on_events = [(sql, params) for sql, params in sent if "FROM events" in sql]
    assert len(on_events) == 2
    with sqlite3.connect(settings.store.path) as raw:
        for sql, params in on_events:
            plan = " ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "ix_events_kind_recorded_at (kind=? AND recorded_at>? AND recorded_at<?)" in plan, plan


def test_a_store_of_the_first_schema_gains_the_index_and_keeps_its_rows(settings, around_midnight):
    around_midnight.close()
    with sqlite3.connect(settings.store.path) as raw:          # as the first release left it
        for index in ("ix_events_kind_recorded_at", "ix_ratings_sync_state_seq", "ix_rating_reasons_sync_state_id",
                      "ix_events_sync_state_id"):                # what migrations 0002 and 0003 add
            raw.execute(f"DROP INDEX {index}")
        raw.execute("DROP TABLE callback_requests")               # what migration 0004 adds
        guard = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'ratings_no_update'").fetchone()[0]
        raw.execute("DROP TRIGGER ratings_no_update")            # migration 0005 adds item_code and guards it
        raw.execute("ALTER TABLE ratings DROP COLUMN item_code")
        raw.execute(guard.replace(" OR NEW.item_code IS NOT OLD.item_code", ""))
        raw.execute("UPDATE alembic_version SET version_num = '0001'")
    reopened = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
    try:
        assert reopened.count_ratings() == 9 and reopened.verify().ok
        assert scoring.summarize_day(reopened, DAY, SHANGHAI, BAD).unrated == 2
    finally:
        reopened.close()
    with sqlite3.connect(settings.store.path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (SCHEMA_HEAD,)
        assert raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'ix_events_kind_recorded_at'").fetchone()
        assert raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'ix_ratings_sync_state_seq'").fetchone()
