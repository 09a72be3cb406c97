"""A web questionnaire's answer stored (centre/public/webratings.py) on a real SQLite file (and PostgreSQL with
EVALUATOR_TEST_PG_URL): once per form; its number with the terminal's consent; its count under `web_level`;
a bad review's case and alert like a terminal's; spam flagged and kept, HTML refused; the address limit; and
the switch that counts web ratings in a unit's score, off by default (the figures show them apart)."""
from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from centre import cityconfig, indicators, rollup_reads
from centre.alerts.settings import AlertSettings
from centre.cityconfig import CityConfig
from centre.db.engine import open_engine
from centre.db.loop_tables import alert_deliveries, case_events, cases
from centre.db.public_tables import citizen_contacts, public_limits, web_ratings
from centre.db.tables import metadata
from centre.errors import BadInput
from centre.public import abuse, limits, webratings
from centre.public.consent import consent_version
from centre.public.settings import PublicSettings
from centre.public.tokens import Token
from centre.public.webratings import Answer, Stored
from tests.centre.conftest import register

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
TOKEN = Token("unit-1", "c-1", date(2026, 12, 3), 14, "q1", "tok-1")
SETTINGS = PublicSettings()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = open_engine(db_url)
    with made.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    register(made, "unit-1", "c-1")
    yield made
    made.dispose()
    cityconfig.install(cityconfig.DEFAULT)


def answer(level: int | None = 4, **fields: object) -> Answer:
    values: dict[str, object] = {"form_id": uuid_mod.uuid4().hex, "level": level, "reasons": (), "text": "",
                                 "phone": "", "consent": False}
    values.update(fields)
    return Answer(**values)  # type: ignore[arg-type]


def test_a_form_stores_once(engine: Engine) -> None:
    given = answer(5, text="很好")
    assert webratings.store(engine, TOKEN, given, NOW, SETTINGS) is Stored.STORED
    assert webratings.store(engine, TOKEN, given, NOW, SETTINGS) is Stored.ALREADY
    with engine.connect() as conn:
        rows = conn.execute(select(web_ratings)).mappings().all()
    assert len(rows) == 1 and rows[0]["text"] == "很好" and rows[0]["token_id"] == "tok-1"
    assert rows[0]["flag"] is None and rows[0]["counter_id"] == "c-1"


def test_a_bad_review_opens_a_case_and_queues_its_alert_with_the_number_apart(engine: Engine) -> None:
    cityconfig.install(CityConfig(alerts=AlertSettings.model_validate({"webhook": {"url": "http://127.0.0.1:9/h"}})))
    given = answer(1, reasons=("slow", "wait"), phone="13800138000", consent=True)
    webratings.store(engine, TOKEN, given, NOW, SETTINGS)
    with engine.connect() as conn:
        rating = conn.execute(select(web_ratings)).mappings().one()
        case = conn.execute(select(cases)).mappings().one()
        opened = conn.execute(select(case_events)).mappings().one()
        contact = conn.execute(select(citizen_contacts)).mappings().one()
        alerts = conn.execute(select(alert_deliveries)).mappings().all()
    assert (case["rating_uuid"], case["unit_id"], case["counter_id"], case["level"], case["opened_by"]) == (
        rating["uuid"], "unit-1", "c-1", 1, "bad_review")
    assert case["contact_due_at"] is not None, "a number was left: the contact deadline runs"
    assert opened["detail"] == {"origin": "bad_review", "level": 1, "reasons": ["slow", "wait"], "channel": "web"}
    assert (contact["rating_uuid"], contact["phone"], contact["consent_version"], contact["source"]) == (
        rating["uuid"], "13800138000", consent_version(), "questionnaire")
    assert "13800138000" not in str(dict(rating)) and [row["case_id"] for row in alerts] == [case["id"]]


def test_a_good_rating_without_a_number_opens_nothing(engine: Engine) -> None:
    webratings.store(engine, TOKEN, answer(3), NOW, SETTINGS)
    webratings.store(engine, TOKEN, answer(4, phone="01065123456", consent=True), NOW, SETTINGS)
    with engine.connect() as conn:
        opened = conn.execute(select(cases.c.level, cases.c.opened_by)).all()
    assert [tuple(row) for row in opened] == [(4, "callback")], "a number left opens a call-back case"


@pytest.mark.parametrize(("text", "flag"), [
    ("加微信 abc123 代开发票", abuse.Flag.SPAM), ("see http://spam.example", abuse.Flag.LINK),
    ("啊啊啊啊啊啊啊啊啊啊啊", abuse.Flag.REPEATED), ("你们都是傻逼", abuse.Flag.ABUSE), ("a<b 价格>5 元", None),
    ("价格<5 元，人数>3", None)])
def test_spam_and_abuse_are_flagged_and_kept(engine: Engine, text: str, flag: abuse.Flag | None) -> None:
    webratings.store(engine, TOKEN, answer(2, text=abuse.clean_text(text)), NOW, SETTINGS)
    with engine.connect() as conn:
        kept = conn.execute(select(web_ratings.c.text, web_ratings.c.flag)).one()
    assert tuple(kept) == (text, flag.value if flag else None)


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "<b>bold</b>", "<img src=x onerror=alert(1)>",
                                  "<!-- x -->", "click javascript:alert(1)", "bell\x07", "字" * 501,
                                  "<svg onload=alert(1)", "</p>", "<br/>", '<a href="x">'])
def test_html_script_controls_and_length_are_refused(text: str) -> None:
    with pytest.raises(BadInput):
        abuse.clean_text(text)


def test_a_form_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(BadInput, match="UTF-8"):
        abuse.parse_form(b"form_id=abcdefghijklmnopqrstuv&text=%ff%fe", "application/x-www-form-urlencoded")
    with pytest.raises(abuse.UnsupportedForm):
        abuse.parse_form(b"{}", "application/json")
    assert abuse.parse_form(b"text=%E5%A5%BD&reason=a&reason=b", "application/x-www-form-urlencoded") == {
        "text": ["好"], "reason": ["a", "b"]}


def test_the_address_limit_counts_a_hash_never_the_address(engine: Engine) -> None:
    for _ in range(3):
        limits.hit_address(engine, "203.0.113.7", "submit", limits.Slot.HOUR, 3, NOW, "submissions")
    with pytest.raises(limits.TooMany):
        limits.hit_address(engine, "203.0.113.7", "submit", limits.Slot.HOUR, 3, NOW, "submissions")
    limits.hit_address(engine, "203.0.113.8", "submit", limits.Slot.HOUR, 3, NOW, "submissions")
    limits.hit_address(engine, "203.0.113.7", "submit", limits.Slot.HOUR, 3, NOW + timedelta(hours=1), "submissions")
    with engine.connect() as conn:
        keys = conn.execute(select(public_limits.c.key)).scalars().all()
    assert keys and not any("203.0.113" in key for key in keys)


def test_old_slots_are_pruned_on_write(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    limits.hit(engine, "token:a", limits.Slot.MINUTE, 10, NOW - timedelta(hours=3), "x")
    monkeypatch.setattr(limits, "_last_pruned", 0.0)
    limits.hit(engine, "token:b", limits.Slot.HOUR, 10, NOW, "x")
    with engine.connect() as conn:
        assert conn.execute(select(public_limits.c.key)).scalars().all() == ["token:b"]


def test_web_ratings_count_in_the_score_only_when_the_city_says_so(engine: Engine) -> None:
    for level in (5, 4, 1):
        webratings.store(engine, TOKEN, answer(level), NOW, SETTINGS)
    scope, period = indicators.Scope.units(["unit-1"]), indicators.period_of(indicators.PeriodKind.MONTH, NOW.date())
    apart = indicators.compute(engine, scope, period)
    assert (apart.rated, apart.web.rated, apart.web.good, apart.web.counted_in_score) == (0, 3, 2, False)
    counted = indicators.compute(engine, scope, period, count_web=True)
    assert (counted.rated, counted.good, counted.web.rated, counted.web.counted_in_score) == (3, 2, 3, True)
    # The rankings' sums follow the same switch, from the installed city config.
    assert comparisons_rated(engine, period) == 0
    cityconfig.install(CityConfig(public=PublicSettings(count_web_ratings=True)))
    assert rollup_reads.score_measures() == ("level", "web_level") and comparisons_rated(engine, period) == 3


def comparisons_rated(engine: Engine, period: indicators.Period) -> int:
    with engine.connect() as conn:
        found = rollup_reads.rated_good(conn, period.start, period.end, rollup_reads.By.UNIT, unit_ids=["unit-1"])
    return found.get("unit-1", (0, 0))[0]
