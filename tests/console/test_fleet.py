"""Fleet, Integrity and the overview's coverage in a real browser on the demo city: every device listed with
its chart drawn, heartbeats sent through the real (signed) route change a device's state and order, a unit
manager sees its unit's devices only, the coverage fragment fills the overview, and both tables export."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from centre.db.engine import open_engine
from centre.db.tables import device_chains, devices, units
from contract import GENESIS_HASH, canonical_json, iso_utc, sign
from tests.console.conftest import DEMO_COUNTERS, DEMO_UNITS, Console, charts_drawn, expect_refusals, login

DEVICES = DEMO_UNITS * DEMO_COUNTERS


def unit_devices(console: Console, unit_id: str) -> list[dict[str, Any]]:
    """The unit's devices with their secrets (to sign as they do) and the last seq the centre holds of each."""
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(
                select(devices.c.id, devices.c.secret, device_chains.c.last_seq)
                .outerjoin(device_chains, device_chains.c.device_id == devices.c.id)
                .where(devices.c.unit_id == unit_id).order_by(devices.c.id)).mappings()]
    finally:
        engine.dispose()


def send_heartbeat(console: Console, device: dict[str, Any], queue: int, oldest_minutes: float | None) -> None:
    """A heartbeat as the terminal's sync worker sends it, signed with the device's secret."""
    now = datetime.now(UTC)
    body = canonical_json({
        "device_id": device["id"], "sent_at": iso_utc(now), "app_version": "0.2.0", "queue_depth": queue,
        "oldest_unsynced_at": iso_utc(now - timedelta(minutes=oldest_minutes)) if oldest_minutes else None,
        "last_seq": device["last_seq"] or 0, "last_hash": GENESIS_HASH, "verify_ok": True, "clock_offset_s": 0.4,
        "panel": {"connected": True, "model": "EVP-1"}, "last_error": None})
    answer = requests.post(console.url + "/v1/heartbeat", data=body, timeout=10, headers={
        **sign(device["secret"], "POST", "/v1/heartbeat", device["id"], body), "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


def test_the_fleet_lists_every_device_with_its_chart_and_exports_it(page: Page, console: Console) -> None:
    login(page, console, "office")
    page.goto(console.page_url("/fleet"))
    expect(page.locator("h1")).to_have_text("设备")
    expect(page.locator("table.fleet tbody tr")).to_have_count(DEVICES)
    assert charts_drawn(page) == [True]
    counted = sum(int(n) for n in page.locator(".state-list [data-state]").all_inner_texts())
    assert counted == DEVICES
    with page.expect_download() as download:
        page.click("a.export")
    assert download.value.suggested_filename.startswith("fleet_city_")
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("状态", "设备编号", "单位编号") and len(rows) == DEVICES + 1
    assert [row[1] for row in rows[1:]] == page.locator("table.fleet tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.device)")
    page.goto(console.page_url("/fleet?lang=en"))
    expect(page.locator("h1")).to_have_text("Fleet")


def test_a_unit_manager_sees_its_devices_lagging_first_and_no_other(page: Page, console: Console) -> None:
    unit = console.scope_of("manager")
    assert unit is not None
    online, lagging = unit_devices(console, unit)
    send_heartbeat(console, online, queue=0, oldest_minutes=None)
    send_heartbeat(console, lagging, queue=3, oldest_minutes=45)    # its oldest rating waits 45 min
    login(page, console, "manager")
    page.goto(console.page_url("/fleet"))
    rows = page.locator("table.fleet tbody tr")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("rows => rows.map(r => [r.dataset.device, r.dataset.unit, r.className])") == [
        [lagging["id"], unit, "state-lagging"], [online["id"], unit, "state-online"]]
    expect(rows.nth(1)).to_contain_text("0.2.0")
    expect(rows.nth(1)).to_contain_text("已连接")
    page.click(f"a[href$='/fleet/{lagging['id']}']")
    expect(page.locator("h1")).to_contain_text(lagging["id"])
    expect(page.locator("h1 .badge")).to_have_text("滞后")

    expect_refusals(page)
    other = unit_devices(console, _another_unit(console, unit))[0]
    assert page.goto(console.page_url(f"/fleet/{other['id']}")).status == 403
    assert page.goto(console.page_url("/fleet/dev-nobody")).status == 404
    expect(page.locator(".alert")).to_contain_text("dev-nobody")
    page.goto(console.page_url("/integrity"))
    expect(page.locator("table.integrity tbody tr")).to_have_count(2)


def _another_unit(console: Console, unit: str) -> str:
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.connect() as conn:
            return str(conn.execute(select(func.min(units.c.id)).where(units.c.id != unit)).scalar_one())
    finally:
        engine.dispose()


def test_the_overview_shows_today_s_coverage(page: Page, console: Console) -> None:
    login(page, console, "office")
    coverage = page.locator("#coverage")
    expect(coverage.locator(".coverage-shares")).to_be_visible()
    expect(coverage.locator("h2")).to_have_count(1)
    expect(coverage.locator("h2")).to_have_text("今日覆盖")
    expect(coverage.locator("[data-share=units] dd")).to_contain_text(f"/ {DEMO_UNITS}")
    expect(coverage.locator("[data-share=counters] dd")).to_contain_text(f"/ {DEMO_UNITS * DEMO_COUNTERS}")
    expect(coverage.locator("[data-share=devices] dd")).to_contain_text(f"/ {DEVICES}")


def test_the_integrity_page_reports_each_device_and_exports(page: Page, console: Console) -> None:
    login(page, console, "auditor")
    page.goto(console.page_url("/integrity"))
    expect(page.locator("h1")).to_have_text("数据完整性")
    rows = page.locator("table.integrity tbody tr")
    expect(rows).to_have_count(DEVICES)
    expect(page.locator(".verdict")).to_contain_text(str(DEVICES))
    export = page.context.request.get(console.page_url("/integrity?format=xlsx"))
    assert export.ok and "integrity_city_" in export.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(export.body())).active
    assert sheet is not None
    cells = list(sheet.iter_rows(values_only=True))
    assert len(cells) == DEVICES + 1 and cells[0][0] == "设备编号"
    assert sorted(row[0] for row in cells[1:]) == sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.device)"))


def test_the_fleet_fits_a_phone(browser_phone: Page, console: Console) -> None:
    login(browser_phone, console, "office")
    browser_phone.goto(console.page_url("/fleet"))
    expect(browser_phone.locator("table.fleet")).to_be_visible()
    width = browser_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the fleet page is {width}px wide on a 390px phone"
