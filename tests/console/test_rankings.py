"""Rankings in a real browser on the demo city: the order is the lower bound's (recounted here, unit by unit,
by centre.indicators), the too-few are listed after without a rank, the chart draws, the xlsx holds the
table's rows, each role sees its own reach, and bad input is a clear page."""
from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, func, select

from centre import indicators
from centre.db.engine import open_engine
from centre.db.tables import rollups, units
from centre.indicators import Period, PeriodKind
from tests.console.conftest import Console, charts_drawn, expect_refusals, login

TABLE_ROWS = "table.rankings tbody tr"


@pytest.fixture
def engine(console: Console) -> Iterator[Engine]:
    opened = open_engine(console.db_url, create=False)
    try:
        yield opened
    finally:
        opened.dispose()


def demo_period(engine: Engine) -> Period:
    """The demo city's days, as a custom period."""
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(rollups.c.day), func.max(rollups.c.day))).one()
    return Period(PeriodKind.CUSTOM, date.fromisoformat(first), date.fromisoformat(last))


def recount(engine: Engine, period: Period, min_ratings: int) -> dict[str, indicators.Indicators]:
    with engine.connect() as conn:
        ids = list(conn.execute(select(units.c.id)).scalars())
    return {unit: indicators.compute(engine, indicators.Scope.units([unit]), period, min_ratings) for unit in ids}


def table(page: Page) -> list[dict[str, Any]]:
    """The table's rows as the page shows them."""
    expect(page.locator(TABLE_ROWS).first).to_be_visible()
    rows: list[dict[str, Any]] = page.locator(TABLE_ROWS).evaluate_all("""rows => rows.map(row => ({
        key: row.dataset.key, rank: row.querySelector('td.rank').innerText.trim(),
        name: row.querySelector('td.name').innerText.trim(),
        rated: Number(row.querySelector('td.rated').innerText.replace(/,/g, '')),
        below: row.classList.contains('below')}))""")
    return rows


def url(console: Console, period: Period, **params: str) -> str:
    query = "&".join([f"from={period.start}", f"to={period.end}", *(f"{k}={v}" for k, v in params.items())])
    return console.page_url(f"/rankings?{query}")


def test_units_are_ranked_by_the_lower_bound_with_the_line_and_the_chart(page: Page, console: Console,
                                                                           engine: Engine) -> None:
    period = demo_period(engine)
    days = (period.end - period.start).days + 1
    minimum = math.ceil(100 * days / 365)          # the round's 100, scaled to the period
    figures = recount(engine, period, minimum)
    login(page, console, "office")
    page.goto(url(console, period))
    note = f"最少评价数：{minimum} 条（每轮 100 条，按本时段 {days} 天折算）"
    expect(page.locator(".period-shown")).to_contain_text(note)
    shown = table(page)
    expected = sorted((u for u, f in figures.items() if not f.too_few),
                      key=lambda u: (-figures[u].good_rate_interval.low, u))  # type: ignore[union-attr]
    assert [row["key"] for row in shown] == expected
    assert [row["rank"] for row in shown] == [str(n) for n in range(1, len(expected) + 1)]
    assert [row["rated"] for row in shown] == [figures[u].rated for u in expected]
    below = [u for u in expected if (figures[u].good_rate or 0) < 0.8]
    assert below, "the demo city has units below the line"
    assert [row["key"] for row in shown if row["below"]] == below
    assert charts_drawn(page) == [True]


def test_too_few_are_listed_after_the_ranked_without_a_rank(page: Page, console: Console, engine: Engine) -> None:
    period = demo_period(engine)
    counts = sorted(f.rated for f in recount(engine, period, 1).values())
    minimum = counts[len(counts) // 2]             # about half the units fall short
    figures = recount(engine, period, minimum)
    few = sorted(u for u, f in figures.items() if f.too_few)
    assert few and len(few) < len(figures)
    login(page, console, "office")
    page.goto(url(console, period, min=str(minimum)))
    expect(page.locator(".period-shown")).to_contain_text(f"最少评价数：{minimum:,} 条（本页指定）")
    shown = table(page)
    ranked = [row for row in shown if row["rank"].isdigit()]
    assert [row["key"] for row in shown[len(ranked):]] == few           # after the ranked ones, by id
    assert all(row["rank"] == "评价数过少" for row in shown[len(ranked):])
    assert sorted(row["key"] for row in ranked) == sorted(set(figures) - set(few))
    expect(page.locator(".summary")).to_contain_text(f"评价数过少 {len(few)} 个")
    # the export holds the same rows, in the same order, the too-few with no rank
    export = page.context.request.get(url(console, period, min=str(minimum), format="xlsx"))
    assert export.ok and "rankings_unit_city_" in export.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(export.body())).active
    assert sheet is not None
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][:3] == ("名次", "编号", "名称")
    assert [(r[1], r[0], r[5]) for r in cells[1:]] == [
        (row["key"], int(row["rank"]) if row["rank"].isdigit() else None, row["rated"]) for row in shown]


def test_districts_and_sectors_sum_their_units(page: Page, console: Console, engine: Engine) -> None:
    period = demo_period(engine)
    login(page, console, "office")
    page.goto(url(console, period, by="district"))
    expect(page.locator("h1")).to_contain_text("区县")
    shown = table(page)
    with engine.connect() as conn:
        district_of = {row.id: row.district_id for row in conn.execute(select(units.c.id, units.c.district_id))}
    figures = recount(engine, period, 1)
    assert {row["key"]: row["rated"] for row in shown} == {
        str(d): sum(f.rated for u, f in figures.items() if district_of[u] == d) for d in set(district_of.values())}
    page.click("nav.rank-by >> text=行业")
    expect(page.locator("h1")).to_contain_text("行业")
    assert sum(row["rated"] for row in table(page)) == sum(f.rated for f in figures.values())
    assert charts_drawn(page) == [True]


def test_a_district_office_ranks_only_its_units(page: Page, console: Console, engine: Engine) -> None:
    expect_refusals(page)
    district = console.scope_of("district")
    with engine.connect() as conn:
        mine = set(conn.execute(select(units.c.id).where(units.c.district_id == int(str(district)))).scalars())
    login(page, console, "district")
    page.goto(url(console, demo_period(engine)))
    assert {row["key"] for row in table(page)} == mine
    response = page.goto(console.page_url("/rankings?by=district"))
    assert response is not None and response.status == 403
    expect(page.locator("[role=alert]")).to_contain_text("may not see the ranking by district")


def test_a_unit_manager_sees_its_own_row_only(page: Page, console: Console, engine: Engine) -> None:
    unit = console.scope_of("manager")
    period = demo_period(engine)
    with engine.connect() as conn:
        others = list(conn.execute(select(units.c.name).where(units.c.id != unit)).scalars())
    login(page, console, "manager")
    page.goto(url(console, period))
    shown = table(page)
    assert [row["key"] for row in shown] == [unit]
    expect(page.locator(".own-rank")).to_contain_text(f"第 {shown[0]['rank']} 名，共 8 个参与排名的单位")
    text = page.locator("main").inner_text()
    assert not [name for name in others if name in text]
    expect(page.locator(".chart")).to_have_count(0)


def test_bad_input_is_a_clear_page(page: Page, console: Console) -> None:
    expect_refusals(page)
    login(page, console, "office")
    for query, reason in (("by=nonsense", "by must be one of unit, district, sector"),
                          ("from=2026-05-01&to=2026-04-01", "before it starts"),
                          ("period=fortnight", "period must be one of"),
                          ("min=lots", "min: a number of ratings")):
        response = page.goto(console.page_url(f"/rankings?{query}"))
        assert response is not None and response.status == 422, query
        expect(page.locator("[role=alert]")).to_contain_text(reason)
        assert "Traceback" not in page.content()


def test_a_phone_shows_the_page_without_sideways_scrolling(browser_phone: Page, console: Console,
                                                           engine: Engine) -> None:
    login(browser_phone, console, "office")
    browser_phone.goto(url(console, demo_period(engine)))
    expect(browser_phone.locator(TABLE_ROWS).first).to_be_visible()
    width = browser_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
