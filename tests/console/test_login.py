"""Accounts in a real browser: log in and out, the lockout after five wrong passwords, CSRF on every form,
HttpOnly and SameSite session cookies, and the audit log of it all."""
from __future__ import annotations

import re

import requests
from playwright.sync_api import Page, expect
from sqlalchemy import select

from centre.db.engine import open_engine
from centre.db.tables import audit_log
from tests.console.conftest import PASSWORD, Console, expect_refusals, login


def audit_actions(console: Console, target: str) -> list[str]:
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(audit_log.c.action).where(audit_log.c.target == target)
                                     .order_by(audit_log.c.id)).scalars())
    finally:
        engine.dispose()


def test_a_page_without_a_session_leads_to_login_and_back(page: Page, console: Console) -> None:
    page.goto(console.page_url("/"))
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/"))
    page.fill("input[name=name]", "office")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(console.page_url("/"))
    expect(page.locator("h1")).to_have_text("全市概览")
    cookie = next(c for c in page.context.cookies() if c["name"] == "evaluator_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.click("text=退出")
    expect(page).to_have_url(console.page_url("/login"))
    page.goto(console.page_url("/"))
    expect(page).to_have_url(re.compile(r"/console/login"))   # the session ended at the centre


def test_a_wrong_password_is_refused_with_one_answer_for_a_wrong_name_too(page: Page, console: Console) -> None:
    expect_refusals(page)
    login(page, console, "office", "not the password")
    expect(page.locator("[role=alert]")).to_have_text("账户名或密码错误。")
    login(page, console, "nobody-at-all", "not the password")
    expect(page.locator("[role=alert]")).to_have_text("账户名或密码错误。")
    assert "login_wrong" in audit_actions(console, "nobody-at-all")


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(page: Page, console: Console) -> None:
    expect_refusals(page)
    for _ in range(4):
        login(page, console, "lockme", "wrong password!")
        expect(page.locator("[role=alert]")).to_have_text("账户名或密码错误。")
    login(page, console, "lockme", "wrong password!")
    expect(page.locator("[role=alert]")).to_contain_text("账户已锁定至")
    login(page, console, "lockme", PASSWORD)
    expect(page.locator("[role=alert]")).to_contain_text("账户已锁定至")
    assert page.url.endswith("/console/login")
    assert audit_actions(console, "lockme")[-2:] == ["login_locked", "login_locked"]


def test_posts_without_the_csrf_token_are_refused(console: Console) -> None:
    http = requests.Session()
    form = http.get(console.page_url("/login"), timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    refused = http.post(console.page_url("/login"), data={"name": "office", "password": PASSWORD}, timeout=10,
                        allow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text and "Traceback" not in refused.text
    done = http.post(console.page_url("/login"), data={"name": "office", "password": PASSWORD,
                                                        "csrf": token.group(1)}, timeout=10, allow_redirects=False)
    assert done.status_code == 303
    # signed in now: a logout without the session's token is refused, and the session lives on
    assert http.post(console.page_url("/logout"), timeout=10, allow_redirects=False).status_code == 403
    assert http.post(console.page_url("/logout"), data={"csrf": "forged"}, timeout=10,
                     allow_redirects=False).status_code == 403
    assert http.get(console.page_url("/"), timeout=10, allow_redirects=False).status_code == 200
    assert audit_actions(console, "office").count("login") >= 1


def test_the_english_switch_stays_with_the_browser(page: Page, console: Console) -> None:
    login(page, console, "office")
    page.click("text=English")
    expect(page.locator("h1")).to_have_text("City overview")
    page.goto(console.page_url("/"))
    expect(page.locator("h1")).to_have_text("City overview")
    page.click("text=中文")
    expect(page.locator("h1")).to_have_text("全市概览")


def test_behind_an_https_proxy_the_cookies_are_secure(console: Console) -> None:
    """uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (its default forwarded_allow_ips), where a hall's
    reverse proxy that ends TLS stands: the session cookie is then marked Secure."""
    http = requests.Session()
    proxied = {"X-Forwarded-Proto": "https"}
    form = http.get(console.page_url("/login"), headers=proxied, timeout=10)
    assert "Secure" in form.headers["set-cookie"]
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    # the client speaks plain HTTP to the proxy's back end here, so it sends the Secure cookie by hand
    login_cookie = form.cookies["console_login_csrf"]
    done = requests.post(console.page_url("/login"), timeout=10, allow_redirects=False,
                         headers={**proxied, "Cookie": f"console_login_csrf={login_cookie}"},
                         data={"name": "auditor", "password": PASSWORD, "csrf": token.group(1)})
    assert done.status_code == 303
    session_cookie = next(line for line in done.raw.headers.getlist("set-cookie")
                          if line.startswith("evaluator_console="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    plain = requests.get(console.page_url("/login"), timeout=10)
    assert "Secure" not in plain.headers["set-cookie"]
