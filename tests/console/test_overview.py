"""The overview in a real browser: figures for each period, charts drawn, each role's own scope."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.conftest import Console, charts_drawn, login


def test_the_city_office_sees_the_city_with_its_charts_drawn(page: Page, console: Console) -> None:
    login(page, console, "office")
    expect(page.locator("h1")).to_have_text("全市概览")
    expect(page.locator(".tile")).to_have_count(5)
    month = page.locator(".tile").nth(2)
    expect(month.locator(".big")).to_contain_text("%")        # the demo city rated this month
    # the trend and the month's levels; today's channels only once the day has ratings (the demo ends yesterday)
    drawn = charts_drawn(page)
    assert len(drawn) >= 2 and all(drawn)


def test_a_unit_manager_sees_only_its_unit(page: Page, console: Console) -> None:
    unit = console.scope_of("manager")
    login(page, console, "manager")
    expect(page.locator("h1")).to_contain_text(str(unit))
    expect(page.locator("nav a")).not_to_contain_text(["账户", "审计日志"])


def test_a_phone_sized_screen_shows_the_same_page(browser_phone: Page, console: Console) -> None:
    login(browser_phone, console, "office")
    expect(browser_phone.locator("h1")).to_have_text("全市概览")
    width = browser_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone: it scrolls sideways"
