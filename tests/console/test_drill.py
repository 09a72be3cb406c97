"""The drill-down in a real browser on the demo city: city → district → unit → counter, the figures against
indicators.compute, each role's reach (403, the manager sent to its unit), a 404 with its reason, the export."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from centre import indicators
from centre.console.web import city_today
from centre.db.engine import open_engine
from centre.db.tables import counters, districts, units
from centre.indicators import Period, PeriodKind
from tests.console.conftest import DEMO_DAYS, Console, charts_drawn, expect_refusals, login

# The demo's 40 days, whatever day the suite runs (a month or a quarter may have just begun).
SPAN = Period(PeriodKind.CUSTOM, city_today() - timedelta(days=DEMO_DAYS + 5), city_today())
SPAN_QUERY = f"?from={SPAN.start.isoformat()}&to={SPAN.end.isoformat()}"


@pytest.fixture
def engine(console: Console) -> Iterator[Engine]:
    opened = open_engine(console.db_url, create=False)
    try:
        yield opened
    finally:
        opened.dispose()


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_city_lists_its_districts_and_sectors_with_their_charts_drawn(page: Page, console: Console,
                                                                         engine: Engine) -> None:
    with engine.connect() as conn:
        names = list(conn.execute(select(districts.c.name).order_by(districts.c.id)).scalars())
    login(page, console, "office")
    page.goto(console.page_url("/drill"))
    expect(page.locator("h1")).to_have_text("全市逐级查看")
    expect(page.locator(".crumbs [aria-current=page]")).to_have_text("全市")
    rows = page.locator("table[data-children=districts] tbody tr")
    expect(rows.locator("td.name a")).to_have_text(names)
    expect(page.locator("table[data-children=sectors] tbody tr").first).to_be_visible()
    assert charts_drawn(page) == [True, True]          # the trend and the levels
    expect(page.locator(".drill-reasons tbody tr").first).to_be_visible()   # the month's bad reviews' reasons
    # the headline's rated is the sum of its districts' (every unit of the demo has one)
    cells = rows.locator("td.rated").all_inner_texts()
    assert _number(page.locator(".drill-headline dd.rated").inner_text()) == sum(_number(c) for c in cells)


def test_clicking_down_from_the_city_to_a_unit_and_a_counter(page: Page, console: Console, engine: Engine) -> None:
    with engine.connect() as conn:
        first = conn.execute(select(units.c.id, units.c.name, districts.c.name.label("district"))
                             .join(districts, districts.c.id == units.c.district_id)
                             .order_by(units.c.district_id, units.c.id)).first()
        counter = conn.execute(select(counters.c.name).where(counters.c.unit_id == first.id)
                               .order_by(counters.c.id)).scalars().first() if first else None
    assert first is not None and counter is not None
    login(page, console, "office")
    page.goto(console.page_url("/drill" + SPAN_QUERY))
    page.locator("table[data-children=districts] td.name a").first.click()
    expect(page.locator("h1")).to_have_text(first.district)
    page.locator("table[data-children=units] td.name a", has_text=first.name).click()
    expect(page.locator("h1")).to_have_text(first.name)
    assert page.url.endswith(f"/drill/unit/{first.id}{SPAN_QUERY}")          # the period travels down
    expect(page.locator(".crumbs a")).to_have_count(3)                       # city › district › sector
    staff = page.locator("table[data-children=staff] td.name a")
    expect(staff.first).to_have_text(re.compile(r"^\S+ \S+"))                # 工号 and name
    page.locator("table[data-children=counters] td.name a", has_text=counter).click()
    expect(page.locator("h1")).to_have_text(counter)
    expect(page.locator(".crumbs a").last).to_have_text(first.name)
    expect(page.locator("table[data-children=staff] tbody tr").first).to_be_visible()
    assert charts_drawn(page) == [True, True]


def test_the_figures_in_a_table_are_those_of_indicators_compute(page: Page, console: Console,
                                                               engine: Engine) -> None:
    login(page, console, "office")
    page.goto(console.page_url("/drill" + SPAN_QUERY))
    page.locator("table[data-children=districts] td.name a").first.click()
    row = page.locator("table[data-children=units] tbody tr").first
    unit = row.get_attribute("data-key")
    assert unit
    expected = indicators.compute(engine, indicators.Scope.units([unit]), SPAN)
    assert expected.rated > 0
    assert _number(row.locator("td.rated").inner_text()) == expected.rated
    expect(row.locator("td.rate")).to_contain_text(_pct(expected.good_rate))
    assert expected.good_rate_interval is not None
    expect(row.locator("td.interval")).to_have_text(
        f"{_pct(expected.good_rate_interval.low)} – {_pct(expected.good_rate_interval.high)}")
    assert _number(row.locator("td.bad-count").inner_text()) == expected.bad
    assert _number(row.locator("td.unrated").inner_text()) == expected.unrated
    assert _number(row.locator("td.suppressed").inner_text()) == expected.suppressed
    below = not expected.too_few and expected.good_rate is not None and expected.good_rate < 0.8
    assert ("below" in (row.get_attribute("class") or "")) == below
    # one level down, the unit's counters (read per counter from the rollups) add up to the same
    row.locator("td.name a").click()
    expect(page.locator("table[data-children=counters]")).to_be_visible()   # the unit's page, not the last one
    counted = page.locator("table[data-children=counters] td.rated").all_inner_texts()
    assert sum(_number(text) for text in counted) == expected.rated
    codes = page.locator(".drill-reasons tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")
    counts = [_number(n) for n in page.locator(".drill-reasons tbody td.num").all_inner_texts()]
    assert dict(zip(codes, counts, strict=True)) == expected.bad_reasons


def test_a_district_office_sees_only_its_district(page: Page, console: Console, engine: Engine) -> None:
    own = console.scope_of("district")
    with engine.connect() as conn:
        other = conn.execute(select(districts.c.id).where(districts.c.id != int(own or 0))).scalars().first()
    expect_refusals(page)
    login(page, console, "district")
    page.goto(console.page_url("/drill"))
    assert page.url.endswith(f"/drill/district/{own}")
    expect(page.locator(".crumbs .up")).to_have_text("全市")          # shown, not a link: the city is not its
    response = page.goto(console.page_url(f"/drill/district/{other}"))
    assert response is not None and response.status == 403
    expect(page.locator(".alert")).to_contain_text(f"district {other}")


def test_a_unit_manager_is_sent_to_its_unit_and_refused_elsewhere(page: Page, console: Console,
                                                                  engine: Engine) -> None:
    own = console.scope_of("manager")
    with engine.connect() as conn:
        other = conn.execute(select(units.c.id).where(units.c.id != own)).scalars().first()
        district = conn.execute(select(units.c.district_id).where(units.c.id == own)).scalar_one()
    expect_refusals(page)
    login(page, console, "manager")
    page.goto(console.page_url("/drill?period=week"))
    assert page.url.endswith(f"/drill/unit/{own}?period=week")
    expect(page.locator(".crumbs a")).to_have_count(0)                  # nothing above its unit is its
    expect(page.locator("table[data-children=counters] tbody tr").first).to_be_visible()
    for path in (f"/drill/unit/{other}", f"/drill/unit/{other}/counter/c-1", f"/drill/district/{district}",
                 "/drill/sector/telecom"):
        response = page.goto(console.page_url(path))
        assert response is not None and response.status == 403, path


def test_an_unknown_unit_or_a_senseless_period_is_a_page_with_the_reason(page: Page, console: Console) -> None:
    expect_refusals(page)
    login(page, console, "office")
    response = page.goto(console.page_url("/drill/unit/no-such-unit"))
    assert response is not None and response.status == 404
    expect(page.locator(".alert")).to_contain_text("no-such-unit")
    response = page.goto(console.page_url("/drill?from=2026-03-01&to=2026-02-01"))
    assert response is not None and response.status == 422
    expect(page.locator(".alert")).to_contain_text("before it starts")
    assert "Traceback" not in page.content()


def test_the_children_table_exports_to_xlsx(page: Page, console: Console) -> None:
    unit = console.scope_of("manager")
    login(page, console, "office")
    page.goto(console.page_url(f"/drill/unit/{unit}{SPAN_QUERY}"))
    shown = page.locator("table[data-children=staff] tbody tr")
    keys = shown.evaluate_all("rows => rows.map(r => r.dataset.key)")
    rated = [_number(text) for text in shown.locator("td.rated").all_inner_texts()]
    with page.expect_download() as info:
        page.locator("#table-staff a.export").click()
    download = info.value
    assert download.suggested_filename.startswith("drill-staff_") and download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as saved:      # Playwright's file has no extension, which openpyxl wants
        sheet = openpyxl.load_workbook(saved).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("编号", "名称", "评价数")
    assert [row[0] or "" for row in rows[1:]] == keys
    assert [row[2] for row in rows[1:]] == rated


def test_a_unit_page_fits_a_phone(browser_phone: Page, console: Console) -> None:
    login(browser_phone, console, "manager")
    browser_phone.goto(console.page_url("/drill"))
    expect(browser_phone.locator("table[data-children=counters]")).to_be_visible()
    width = browser_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone: it scrolls sideways"
