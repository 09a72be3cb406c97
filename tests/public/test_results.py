"""The public results in Debian's Chromium with JavaScript off, at a phone's 390×844 and a desktop's viewport,
served by a real centre process on the demo city: the city's and a unit's figures equal centre.indicators' (and
centre.cases.figures') for the same scope and period, units with too few ratings said so and never ranked, a
model unit and a withdrawn title (awarded and withdrawn through centre/modelround.py), the rectifications in
aggregate with no staff name, a unit that does not exist → the 404 page; a day's digest published by the real
CLI (and the server's housekeeping), a receipt's inclusion proof verified against it by the page and by the
test's own few lines, and a rating deleted straight in the database (as an insider would) making it fail."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import requests
from playwright.sync_api import Page
from sqlalchemy import Engine, delete, func, select

from centre import indicators
from centre.cases import flow
from centre.cases.figures import loop_figures
from centre.cases.model import Actor, ActorRole
from centre.comparisons import ranking
from centre.db.loop_tables import cases
from centre.db.public_tables import public_digests
from centre.db.tables import devices, model_rounds, model_titles, ratings, staff
from centre.modelround import apply, confirm, record_check, withdraw, year_figures
from centre.public import published
from centre.public.pages.results import percent
from centre.reports import unit_zone
from contract import receipt_url
from tests.centre.conftest import REPO
from tests.public.conftest import DESKTOP, PHONE, PageMaker, PublicCentre, expect_refusals

VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
OFFICE = Actor("office-screens-officer", ActorRole.CITY)
HOLDER, LOSER = "dc-banking", "bs-telecom"      # the demo's best unit and its one below 80 %
PROVED = "nh-national_tax"                      # the unit whose published day loses a rating in the last test
REASON = "2026年度好评率置信区间下限低于80%"


def day_of_demo() -> date:
    """A local day the demo city rated, due for publication whatever the hour (two days ago in Shanghai)."""
    return published.city_today() - timedelta(days=2)


def cells(page: Page, table: str, figure: str) -> list[str]:
    return [text.strip() for text in page.locator(f"#{table} tr[data-figure='{figure}'] td").all_inner_texts()]


def interval_text(found: indicators.Interval | None) -> tuple[str, str] | None:
    return (percent(found.low), percent(found.high)) if found else None


def check_column(texts: dict[str, str], found: indicators.Indicators, loop: Any) -> None:
    """One column of figures as the page shows them, against the indicators of the same scope and period (and
    the loop's, as centre.cases.figures counts them)."""
    assert texts["rated"] == f"{found.rated:,}"
    assert texts["good_rate"] == percent(found.good_rate)
    bounds = interval_text(found.good_rate_interval)
    assert bounds is None or (bounds[0] in texts["interval"] and bounds[1] in texts["interval"])
    assert texts["bad"] == f"{found.bad:,}"
    assert texts["bad_rate"] == percent(found.bad_rate)
    assert texts["active_rate"] == percent(found.active_rate)
    assert texts["reply_rate"] == percent(loop.reply_rate)
    assert texts["rectified_rate"] == percent(loop.rectified_rate)
    assert texts["web_rated"] == f"{found.web.rated:,}" and texts["web_good_rate"] == percent(found.web.good_rate)


FIGURES = ("rated", "good_rate", "interval", "bad", "bad_rate", "active_rate", "reply_rate", "rectified_rate",
           "web_rated", "web_good_rate")


@VIEWPORTS
def test_the_city_and_its_units_show_the_indicators(public_centre: PublicCentre, open_page: PageMaker,
                                                     viewport: dict[str, int]) -> None:
    day, engine = day_of_demo(), public_centre.engine
    page = open_page(viewport, js=False)
    answer = page.goto(f"{public_centre.url}/results?period=month&date={day.isoformat()}")
    assert answer is not None and answer.status == 200
    period = indicators.period_of(indicators.PeriodKind.MONTH, day)
    city = indicators.compute(engine, indicators.CITY, period)
    with engine.connect() as conn:
        loop = loop_figures(conn, None, period.start, period.end)
    check_column({figure: cells(page, "city-figures", figure)[0] for figure in FIGURES}, city, loop)
    ranked = ranking(engine, period)
    shown = page.locator("#ranking tbody tr").evaluate_all("rows => rows.map(r => r.dataset.unit)")
    assert shown == [unit.unit_id for unit in ranked.units if unit.rank is not None]
    too_few = page.locator("#too-few tbody tr").evaluate_all("rows => rows.map(r => r.dataset.unit)")
    assert too_few == [unit.unit_id for unit in ranked.units if unit.rank is None]
    for unit in ranked.units[:2]:
        row = page.locator(f"#ranking tr[data-unit='{unit.unit_id}']")
        assert row.locator("[data-figure='rated']").inner_text() == f"{unit.rated:,}"
        assert row.locator("[data-figure='good_rate']").inner_text() == percent(unit.good_rate)
    page.get_by_role("link", name="季度").click()
    assert "period=quarter" in page.url and page.locator("#period-label").inner_text().endswith("季度")


@VIEWPORTS
def test_a_units_page_shows_its_month_quarter_and_year(public_centre: PublicCentre, open_page: PageMaker,
                                                        viewport: dict[str, int]) -> None:
    day, engine = day_of_demo(), public_centre.engine
    page = open_page(viewport, js=False, locale="en-GB")
    answer = page.goto(f"{public_centre.url}/results/units/{HOLDER}?date={day.isoformat()}")
    assert answer is not None and answer.status == 200
    assert "Dongcheng" in page.locator("h1").inner_text()
    for column, kind in enumerate(("month", "quarter", "year")):
        found = indicators.answer(engine, [HOLDER], kind, day)
        period = indicators.period_of(indicators.PeriodKind(kind), day)
        with engine.connect() as conn:
            loop = loop_figures(conn, (HOLDER,), period.start, period.end)
        check_column({figure: cells(page, "unit-figures", figure)[column] for figure in FIGURES}, found, loop)
        rank = cells(page, "unit-figures", "rank")[column]
        assert (rank == "Too few ratings: not ranked") == found.too_few
    with engine.connect() as conn:
        names = [row.name for row in conn.execute(select(staff.c.name))]
    text = page.locator("main").inner_text()
    assert names and not any(name in text for name in names)     # no staff name anywhere


@VIEWPORTS
def test_a_unit_that_does_not_exist_is_a_404_page(public_centre: PublicCentre, open_page: PageMaker,
                                                  viewport: dict[str, int]) -> None:
    page = open_page(viewport, js=False)
    expect_refusals(page)
    answer = page.goto(f"{public_centre.url}/results/units/no-such-unit")
    assert answer is not None and answer.status == 404
    assert page.locator("h1").inner_text() == "无法完成此操作"
    assert "找不到此页面" in page.locator("main").inner_text()
    answer = page.goto(f"{public_centre.url}/digests/no-such-unit/2026-01-01")
    assert answer is not None and answer.status == 404


@pytest.fixture(scope="module")
def rounds(public_centre: PublicCentre) -> dict[str, int]:
    """Last year's round (recorded as a past round: the demo city has no ratings then) named HOLDER and LOSER;
    this year LOSER falls short and its title is withdrawn, and HOLDER applies, passes and is named again —
    both through centre/modelround.py, as the console's Round page does."""
    engine = public_centre.engine
    # The round of the year holding most of the demo's week (in the first days of January, the one before, whose
    # units have the ratings a round needs), so the test means the same thing on any day it runs.
    with engine.connect() as conn:
        year = int(conn.execute(select(func.substr(ratings.c.counted_at, 1, 4).label("year"))
                                .group_by("year").order_by(func.count().desc()).limit(1)).scalar_one())
    with engine.begin() as conn:
        conn.execute(model_rounds.insert().values(year=year - 1, target="0.80", titles=60, confirmed_by="office",
                                                  confirmed_at=f"{year - 1}-12-20T02:00:00.000000+00:00"))
        conn.execute(model_titles.insert(), [
            {"year": year - 1, "unit_id": unit, "awarded_by": "office-screens-officer",
             "awarded_at": f"{year - 1}-12-20T02:00:00.000000+00:00", "withdrawn_in": None, "withdrawn_by": None,
             "withdrawn_at": None, "withdrawal_reason": None} for unit in (HOLDER, LOSER)])
    figures = year_figures(engine, year)
    with engine.begin() as conn:
        withdraw(conn, year, LOSER, REASON, figures, OFFICE.name)
        apply(conn, year, HOLDER, OFFICE.name, "")
        record_check(conn, year, HOLDER, "ledger", "passed", "", OFFICE.name)
        confirm(conn, year, figures, OFFICE.name)
    return {"year": year}


@VIEWPORTS
def test_model_units_and_a_withdrawn_title_are_published(public_centre: PublicCentre, open_page: PageMaker,
                                                         viewport: dict[str, int], rounds: dict[str, int]) -> None:
    year = rounds["year"]
    page = open_page(viewport, js=False)
    page.goto(f"{public_centre.url}/results?period=year&date={year}-12-31")
    this_round = page.locator(f"table[data-round='{year}']")
    assert this_round.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.unit)") == [HOLDER]
    assert "保留" in this_round.locator(f"tr[data-unit='{HOLDER}']").inner_text()
    last = page.locator(f"table[data-round='{year - 1}'] tr[data-unit='{LOSER}']")
    assert f"已于{year}年度撤销" in last.inner_text() and REASON in last.inner_text()
    assert OFFICE.name not in page.content()     # who awarded or withdrew is the office's, never published
    page.goto(f"{public_centre.url}/results/units/{LOSER}")
    titles = page.locator("#unit-titles").inner_text()
    assert f"{year - 1}年度服务示范点" in titles and REASON in titles


def test_rectifications_are_published_in_aggregate(public_centre: PublicCentre, open_page: PageMaker) -> None:
    engine, day = public_centre.engine, day_of_demo()
    period = indicators.period_of(indicators.PeriodKind.MONTH, day)
    unit_office = Actor("manager", ActorRole.UNIT, (HOLDER,))
    with engine.begin() as conn:
        # A case still being worked (the demo's units work theirs), rated on `day`'s morning (UTC): in its month
        # anywhere.
        case_id, state = conn.execute(select(cases.c.id, cases.c.state).where(
            cases.c.unit_id == HOLDER, cases.c.state.in_(("new", "assigned")), cases.c.rated_at >= day.isoformat(),
            cases.c.rated_at < f"{day.isoformat()}T12")).first() or (None, None)
        assert case_id is not None, "no case of the day still being worked"
        if state == "new":
            flow.assign(conn, case_id, OFFICE, assignee="窗口负责人")
        flow.rectify(conn, case_id, unit_office, cause="等候时间长", measures="增开窗口")
        flow.verify(conn, case_id, OFFICE)
    with engine.connect() as conn:
        expected = published.rectifications(conn, published.all_units(conn), period)[HOLDER]
    assert expected.rectified >= 1 and expected.verified >= 1
    page = open_page(DESKTOP, js=False)
    page.goto(f"{public_centre.url}/results?period=month&date={day.isoformat()}")
    row = page.locator(f"#rectifications tr[data-unit='{HOLDER}']")
    for key in ("cases", "rectified", "verified", "closed"):
        assert row.locator(f"[data-figure='{key}']").inner_text() == f"{getattr(expected, key):,}"
    text = page.locator("main").inner_text()
    assert "窗口负责人" not in text and "增开窗口" not in text     # no names, no case's words


# -- the digest, the proof, a deletion ---------------------------------------------------------------------


def cli(centre: PublicCentre, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "centre.cli", *args, "--db", centre.db_url], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def own_verify(leaf: str, index: int, size: int, path: list[str], root: str) -> bool:
    """docs/public.md's few lines, as a citizen would type them (not the centre's code)."""
    def h(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()
    fn, sn, r = index, size - 1, h(b"\x00" + bytes.fromhex(leaf))
    for p in map(bytes.fromhex, path):
        if sn == 0:
            return False
        if fn % 2 or fn == sn:
            r = h(b"\x01" + p + r)
            while fn % 2 == 0 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = h(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == root


def receipts(engine: Engine, unit: str, day: date, count: int) -> list[tuple[str, str]]:
    """(rating uuid, its receipt's proof URL path and query) of `count` ratings of the unit's local day."""
    with engine.connect() as conn:
        zone = unit_zone(conn, unit)
        rows = conn.execute(select(ratings.c.uuid, ratings.c.device_id, ratings.c.counted_at, devices.c.secret)
                            .join(devices, devices.c.id == ratings.c.device_id)
                            .where(ratings.c.placed_unit_id == unit).order_by(ratings.c.seq)).all()
    mine = [row for row in rows if datetime.fromisoformat(row.counted_at).astimezone(zone).date() == day][:count]
    return [(row.uuid, receipt_url("/results/proof", row.secret, row.device_id, row.uuid)) for row in mine]


@VIEWPORTS
def test_a_receipts_proof_holds_against_the_published_digest(public_centre: PublicCentre, open_page: PageMaker,
                                                             viewport: dict[str, int]) -> None:
    engine, day = public_centre.engine, day_of_demo()
    done = cli(public_centre, "digest", "publish", "--day", day.isoformat(), "--unit", HOLDER, "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["outcome"] in ("published", "unchanged")    # the housekeeping may have been first
    listed = requests.get(f"{public_centre.url}/digests/{HOLDER}/{day.isoformat()}", timeout=30).json()
    assert listed["digests"][0]["root"] == made["root"] and listed["digests"][0]["superseded"] is False
    (uuid, link), = receipts(engine, HOLDER, day, 1)
    page = open_page(viewport, js=False)
    page.goto(public_centre.url + link)
    assert page.locator("#proof-state").get_attribute("data-state") == "verified"
    assert page.locator("#proof-root").inner_text() == made["root"]
    body = json.loads(page.locator("#proof-json").inner_text())
    assert body["verified"] is True and body["rating_uuid"] == uuid
    assert own_verify(body["leaf"], body["index"], body["size"], body["path"], made["root"])
    expect_refusals(page)
    forged = link[:-1] + ("0" if link[-1] != "0" else "1")
    answer = page.goto(public_centre.url + forged)
    assert answer is not None and answer.status == 403


def test_a_rating_deleted_in_the_database_fails_the_proof(public_centre: PublicCentre,
                                                          open_page: PageMaker) -> None:
    engine, day = public_centre.engine, day_of_demo()
    assert cli(public_centre, "digest", "publish", "--day", day.isoformat(), "--unit", PROVED).returncode == 0
    (kept, kept_link), (gone, gone_link) = receipts(engine, PROVED, day, 2)
    before = requests.get(f"{public_centre.url}{kept_link}&format=json", timeout=30).json()
    assert before["state"] == "verified"
    with engine.begin() as conn:     # an insider removes a rating, straight in the database
        conn.execute(delete(ratings).where(ratings.c.uuid == gone))
    page = open_page(PHONE, js=False)
    page.goto(public_centre.url + kept_link)
    assert page.locator("#proof-state").get_attribute("data-state") == "failed"
    assert page.locator("#proof-verified").inner_text() == "未通过"
    after = json.loads(page.locator("#proof-json").inner_text())
    assert after["root"] == before["root"] and not own_verify(after["leaf"], after["index"], after["size"],
                                                               after["path"], after["root"])
    page.goto(public_centre.url + gone_link)
    assert page.locator("#proof-state").get_attribute("data-state") == "unknown"
    checked = cli(public_centre, "digest", "verify", "--day", day.isoformat(), "--unit", PROVED)
    assert checked.returncode == 1 and "MISMATCH" in checked.stdout
    again = cli(public_centre, "digest", "publish", "--day", day.isoformat(), "--unit", PROVED)
    assert again.returncode == 1 and "mismatch" in again.stdout     # never papered over by a new root
    with engine.connect() as conn:
        roots = conn.execute(select(public_digests.c.root).where(public_digests.c.unit_id == PROVED,
                                                                 public_digests.c.day == day.isoformat())).all()
    assert [row.root for row in roots] == [before["root"]]
