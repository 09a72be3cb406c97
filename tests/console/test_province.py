"""The Province page in a real browser: the records by state, a refused record with the province's reason, an
invalid one with our rule, the last uploads, the xlsx export; the city office and the auditor only."""
from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from centre.db.engine import open_engine
from centre.db.province_tables import province_pushes, province_records
from centre.db.tables import units
from contract import iso_utc
from tests.console.conftest import Console, expect_refusals, login

REFUSAL = "case_rated: case C-2041 already has a record (rating:x): one service, one rating"


def _plant(console: Console) -> tuple[str, str, str]:
    """A refused, an invalid and an accepted record of yesterday, and two uploads; (refused id, invalid id, unit
    name)."""
    engine = open_engine(console.db_url, create=False)
    now = datetime.now(UTC)
    at = iso_utc(now - timedelta(days=1))
    refused, invalid, accepted = (f"rating:{uuid.uuid4()}" for _ in range(3))
    try:
        with engine.begin() as conn:
            unit_id, unit_name = conn.execute(select(units.c.id, units.c.name).order_by(units.c.id)).first()
            conn.execute(delete(province_records))
            conn.execute(delete(province_pushes))
            base = {"source": "rating", "device_id": "dev-1", "unit_id": unit_id, "evaluated_at": at,
                    "made_at": at, "fields": {"appraiseId": "x"}, "attempts": 1, "rule": None, "problem": None,
                    "answer_code": None, "answer_text": None, "answered_at": None}
            conn.execute(province_records.insert(), [
                {**base, "record_id": refused, "rating_uuid": refused[7:], "case_no": "C-2041", "state": "refused",
                 "answer_code": "2001", "answer_text": REFUSAL, "answered_at": at},
                {**base, "record_id": invalid, "rating_uuid": invalid[7:], "case_no": None, "state": "invalid",
                 "rule": "bad_review_without_reason", "problem": "a bad review (level 1) without a reason",
                 "attempts": 0},
                {**base, "record_id": accepted, "rating_uuid": accepted[7:], "case_no": "C-2040",
                 "state": "accepted", "answer_code": "0", "answer_text": "accepted", "answered_at": at}])
            conn.execute(province_pushes.insert(), [
                {"started_at": iso_utc(now - timedelta(minutes=5)), "records": 2, "http_status": 500,
                 "outcome": "failed", "accepted": 0, "refused": 0, "error": "HTTP 500: platform down",
                 "duration_ms": 12},
                {"started_at": iso_utc(now - timedelta(minutes=4)), "records": 2, "http_status": 200,
                 "outcome": "answered", "accepted": 1, "refused": 1, "error": None, "duration_ms": 30}])
    finally:
        engine.dispose()
    return refused, invalid, unit_name


def _span() -> str:
    today = datetime.now(UTC).date()
    return f"from={today - timedelta(days=3)}&to={today + timedelta(days=1)}"


def test_the_office_sees_a_refused_record_with_the_provinces_reason(page: Page, console: Console) -> None:
    refused, invalid, unit_name = _plant(console)
    login(page, console, "office")
    page.locator("header nav a", has_text="省级上报").click()
    expect(page.locator("h1")).to_have_text("上报省好差评系统")
    expect(page.locator("section.card h2", has_text="被退回、未通过校验或待人工处理的记录")).to_be_visible()
    page.goto(console.page_url(f"/province?{_span()}"))
    expect(page.locator(".province-count[data-state=refused] strong")).to_have_text("1")
    expect(page.locator(".province-count[data-state=accepted] strong")).to_have_text("1")
    row = page.locator(f"table.province-problems tr[data-record='{refused}']")
    expect(row).to_contain_text(REFUSAL)
    expect(row).to_contain_text("C-2041")
    expect(row).to_contain_text(unit_name)
    expect(row.locator(".badge")).to_have_text("被退回")
    expect(page.locator(f"tr[data-record='{invalid}']")).to_contain_text("bad_review_without_reason")
    # Summed by cause, the largest first: each with its records, its units and its words.
    causes = page.locator("table.province-causes tbody tr")
    expect(causes).to_have_count(2)
    refused_cause = page.locator("table.province-causes tr[data-state=refused][data-code='2001']")
    expect(refused_cause.locator("td.num").first).to_have_text("1")
    expect(refused_cause).to_contain_text(REFUSAL)
    expect(page.locator("table.province-causes tr[data-code=bad_review_without_reason]")).to_be_visible()
    expect(page.locator("table.province-pushes tbody tr")).to_have_count(2)
    expect(page.locator("table.province-pushes tr[data-outcome=failed]")).to_contain_text("HTTP 500: platform down")

    with page.expect_download() as download:
        page.locator("a.export").click()
    assert download.value.suggested_filename.startswith("province_city_")
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert sheet is not None
    cells = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells[refused][1] == "refused" and cells[refused][7] == REFUSAL


def test_only_the_city_office_and_the_auditor_see_it(page: Page, console: Console) -> None:
    _plant(console)
    login(page, console, "auditor")
    page.goto(console.page_url(f"/province?{_span()}"))
    expect(page.locator("table.province-problems tbody tr")).to_have_count(2)
    page.context.clear_cookies()
    expect_refusals(page)
    login(page, console, "manager")
    expect(page.locator("header nav a", has_text="省级上报")).to_have_count(0)
    assert page.goto(console.page_url("/province")).status == 403


def test_a_phone_sized_screen_shows_the_page_without_sideways_scrolling(browser_phone: Page,
                                                                       console: Console) -> None:
    _plant(console)
    login(browser_phone, console, "office")
    browser_phone.goto(console.page_url(f"/province?{_span()}"))
    expect(browser_phone.locator("table.province-problems tbody tr")).to_have_count(2)
    width = browser_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone: it scrolls sideways"
