"""The Users page (the city office's) and the Audit log page (the auditor's and the city office's) in a real
browser: an account added through the form logs in, a role change takes effect and ends the account's open
session, disabling works, the other roles get a 403, the audit log lists logins, filters and exports, and a
change without the CSRF token, or an office demoting itself, is refused."""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import openpyxl
import requests
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from centre.console import accounts, audit
from centre.db.engine import open_engine
from centre.db.tables import audit_log, districts
from tests.console.conftest import PASSWORD, Console, expect_refusals, login


@contextmanager
def other_browser(browser: Browser) -> Iterator[Page]:
    """A second browser (its own cookies): the account the office changes, signed in meanwhile."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()


def add_account(console: Console, name: str, role: str, scope: str | None) -> None:
    """As `evaluator centre user add` does, straight on the centre's database."""
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.begin() as conn:
            accounts.add(conn, name, role, scope, PASSWORD)
    finally:
        engine.dispose()


def audit_rows(console: Console, target: str) -> list[tuple[str, str | None]]:
    """(action, actor) of the entries about `target`, oldest first."""
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.connect() as conn:
            return [(row.action, row.actor) for row in conn.execute(
                select(audit_log.c.action, audit_log.c.actor).where(audit_log.c.target == target)
                .order_by(audit_log.c.id))]
    finally:
        engine.dispose()


def district_name(console: Console, district_id: str) -> str:
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.connect() as conn:
            return str(conn.execute(select(districts.c.name).where(districts.c.id == int(district_id))).scalar_one())
    finally:
        engine.dispose()


def test_the_office_adds_a_unit_manager_who_can_then_log_in(page: Page, console: Console, browser: Browser) -> None:
    unit = console.scope_of("manager")
    login(page, console, "office")
    page.click("nav >> text=账户")
    expect(page.locator("h1")).to_have_text("账户管理")
    form = page.locator("form.users-add")
    form.locator("input[name=name]").fill("added-manager")
    form.locator("select[name=role]").select_option("unit")
    form.locator("select[name=scope]").select_option(f"unit:{unit}")
    form.locator("input[name=password]").fill("a-new-managers-password")
    form.locator("input[name=again]").fill("a-new-managers-password")
    form.locator("button[type=submit]").click()
    expect(page.locator("[role=status]")).to_have_text("已添加账户 added-manager。")
    row = page.locator("tr[data-name='added-manager']")
    expect(row.locator(".role")).to_have_text("单位负责人")
    expect(row.locator(".scope")).to_contain_text(f"({unit})")
    expect(row.locator(".state")).to_have_text("正常")
    assert audit_rows(console, "added-manager") == [("user_added", "office")]
    with other_browser(browser) as manager:
        login(manager, console, "added-manager", "a-new-managers-password")
        expect(manager).to_have_url(console.page_url("/"))
        expect(manager.locator("h1")).to_contain_text(str(unit))


def test_a_role_change_takes_effect_and_ends_the_accounts_open_session(page: Page, console: Console,
                                                                       browser: Browser) -> None:
    district = console.scope_of("district")
    assert district is not None
    add_account(console, "promoted", "unit", console.scope_of("manager"))
    with other_browser(browser) as promoted:
        login(promoted, console, "promoted")
        expect(promoted).to_have_url(console.page_url("/"))
        login(page, console, "office")
        page.goto(console.page_url("/users/promoted"))
        form = page.locator("form.users-role")
        form.locator("select[name=role]").select_option("district")
        form.locator("select[name=scope]").select_option(f"district:{district}")
        form.locator("button[type=submit]").click()
        expect(page.locator("[role=status]")).to_have_text("已更改 promoted 的角色，其会话已结束。")
        expect(page.locator("tr[data-name='promoted'] .role")).to_have_text("区县管理")
        promoted.goto(console.page_url("/"))
        expect(promoted).to_have_url(re.compile(r"/console/login"))        # the open session ended
        login(promoted, console, "promoted")
        expect(promoted.locator("h1")).to_contain_text(district_name(console, district))
    assert ("role_changed", "office") in audit_rows(console, "promoted")


def test_a_disabled_account_is_signed_out_and_cannot_log_in(page: Page, console: Console, browser: Browser) -> None:
    add_account(console, "leaving", "auditor", None)
    with other_browser(browser) as leaving:
        login(leaving, console, "leaving")
        expect(leaving).to_have_url(console.page_url("/"))
        login(page, console, "office")
        page.goto(console.page_url("/users/leaving"))
        page.click("form.users-state button")
        expect(page.locator("[role=status]")).to_have_text("已停用账户 leaving，其会话已结束。")
        expect(page.locator("tr[data-name='leaving'] .state")).to_have_text("已停用")
        leaving.goto(console.page_url("/"))
        expect(leaving).to_have_url(re.compile(r"/console/login"))
        login(leaving, console, "leaving")
        expect(leaving.locator("[role=alert]")).to_have_text("此账户已停用，请联系市级管理员。")
        page.click("form.users-state button")                               # and back
        expect(page.locator("tr[data-name='leaving'] .state")).to_have_text("正常")
        login(leaving, console, "leaving")
        expect(leaving).to_have_url(console.page_url("/"))
    changes = [(action, actor) for action, actor in audit_rows(console, "leaving") if action.startswith("user_")]
    assert changes == [("user_disabled", "office"), ("user_enabled", "office")]


def test_only_the_city_office_manages_accounts_and_only_it_and_the_auditor_read_the_log(
        page: Page, console: Console) -> None:
    expect_refusals(page)
    for name, users_status, audit_status in (("district", 403, 403), ("manager", 403, 403), ("auditor", 403, 200)):
        login(page, console, name)
        expect(page).to_have_url(console.page_url("/"))
        for path, status in (("/users", users_status), ("/audit", audit_status)):
            answer = page.goto(console.page_url(path))
            assert answer is not None and answer.status == status, (name, path, answer and answer.status)
            if status == 403:
                expect(page.locator("[role=alert]")).to_contain_text("only")
        # what a role may not open is not offered in its menu either
        expect(page.locator("nav a", has_text="账户")).to_have_count(1 if users_status == 200 else 0)
        expect(page.locator("nav a", has_text="审计日志")).to_have_count(1 if audit_status == 200 else 0)


def test_the_auditor_reads_filters_pages_and_exports_the_log(page: Page, console: Console) -> None:
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.begin() as conn:     # more than a page of entries, whatever ran before
            for n in range(55):
                audit.record(conn, audit.Action.ROUND_CHANGED, f"paging-{n}", actor="office", role="city")
    finally:
        engine.dispose()
    login(page, console, "auditor")
    page.click("nav >> text=审计日志")
    expect(page.locator("h1")).to_have_text("审计日志")
    newest = page.locator("tbody tr").first
    expect(newest).to_have_attribute("data-action", "login")
    expect(newest.locator("td").nth(1)).to_have_text("auditor")
    page.click("a[rel=next]")
    expect(page).to_have_url(re.compile(r"page=2"))
    page.select_option("select[name=action]", "login")
    page.click("form.audit-filter button")
    expect(page).to_have_url(re.compile(r"action=login"))
    expect(page.locator("tbody tr[data-action]").first).to_be_visible()
    assert set(page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")) == {"login"}
    expect(page.locator("tbody tr td.action").first).to_have_text("登录")
    with page.expect_download() as download:
        page.click("a.export")
    assert re.fullmatch(r"audit_login_\d{4}-\d{2}-\d{2}\.xlsx", download.value.suggested_filename)
    path = download.value.path()
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][3] == "操作" and len(rows) > 1 and {row[3] for row in rows[1:]} == {"login"}
    assert audit_rows(console, download.value.suggested_filename) == [("export", "auditor")]


def test_account_changes_need_the_csrf_token_and_an_office_may_not_demote_itself(console: Console) -> None:
    http = requests.Session()
    form = http.get(console.page_url("/login"), timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    http.post(console.page_url("/login"), data={"name": "office", "password": PASSWORD, "csrf": token.group(1)},
              timeout=10)
    wanted = {"name": "no-token", "role": "auditor", "scope": "", "password": PASSWORD, "again": PASSWORD}
    for sent in (wanted, {**wanted, "csrf": "forged"}):
        refused = http.post(console.page_url("/users"), data=sent, timeout=10, allow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.text and "Traceback" not in refused.text
    assert audit_rows(console, "no-token") == []
    page = http.get(console.page_url("/users"), timeout=10)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf is not None
    demoted = http.post(console.page_url("/users/office/role"), headers={"Referer": console.page_url("/users")},
                        data={"csrf": csrf.group(1), "role": "auditor", "scope": ""}, timeout=10)
    assert demoted.status_code == 422 and "不能降低自己的角色" in demoted.text
    # the refusal's language switch leads back to the page the form was on, not to the form's POST-only URL
    switch = re.search(r'<a href="([^"]+)" lang="en">', demoted.text)
    assert switch is not None and switch.group(1).replace("&amp;", "&").endswith("/console/users?lang=en")
    disabled = http.post(console.page_url("/users/office/state"), data={"csrf": csrf.group(1), "state": "disabled"},
                         timeout=10)
    assert disabled.status_code == 422 and "不能停用自己的账户" in disabled.text
    assert http.get(console.page_url("/users"), timeout=10).status_code == 200   # still the office, still in
    assert http.get(console.page_url("/users?lang=en"), timeout=10).status_code == 200   # where the switch leads


def test_both_pages_fit_a_phone_in_english(browser_phone: Page, console: Console) -> None:
    login(browser_phone, console, "office")
    for path, title in (("/users?lang=en", "Console accounts"), ("/audit?lang=en", "Audit log")):
        browser_phone.goto(console.page_url(path))
        expect(browser_phone.locator("h1")).to_have_text(title)
        width = browser_phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
