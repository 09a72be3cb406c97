"""The online questionnaire in Debian's Chromium, at a phone's 390×844 and a desktop's viewport, served by a real
centre process: opened from the QR URL the centre put in a real enrolled terminal's config, filled and sent
without JavaScript, sent twice, refused for a forged, altered or expired token, HTML in the text and too many
submissions (each a 4xx page, nothing stored), spam flagged and kept, and axe-core's serious and critical
violations: none."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from playwright.sync_api import Page
from sqlalchemy import func, select

from centre.db.loop_tables import cases
from centre.db.public_tables import web_ratings
from centre.public import keys, tokens
from tests.public.conftest import DESKTOP, PHONE, PUBLIC_SETTINGS, PageMaker, PublicCentre, axe, expect_refusals


def stored(centre: PublicCentre, **where: Any) -> list[dict[str, Any]]:
    with centre.engine.connect() as conn:
        rows = conn.execute(select(web_ratings).filter_by(**where)).mappings().all()
    return [dict(row) for row in rows]


def count(centre: PublicCentre) -> int:
    with centre.engine.connect() as conn:
        found: int = conn.execute(select(func.count()).select_from(web_ratings)).scalar_one()
        return found


def issued_url(centre: PublicCentre, pair: int = 0) -> str:
    """The questionnaire URL the centre sent a freshly enrolled terminal (a different counter per `pair`)."""
    unit, counter = centre.counters()[pair]
    enrolled = centre.enroll_terminal(unit, counter)
    url: str = enrolled["config"]["counter"]["questionnaire_url"]
    assert url.startswith(f"{centre.url}/q/")
    return url


def fill(page: Page, level: int, text: str = "", reasons: tuple[str, ...] = (), phone: str = "") -> None:
    page.get_by_role("radio", name={5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}[level],
                     exact=True).check()
    for code in reasons:
        page.check(f"#reason-{code}")
    if text:
        page.fill("#text", text)
    if phone:
        page.fill("#phone", phone)
        page.check("#consent")


def submit(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="提交评价").click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_citizen_rates_from_the_qr_the_centre_issued(public_centre: PublicCentre, open_page: PageMaker,
                                                       viewport: dict[str, int]) -> None:
    url = issued_url(public_centre, 0 if viewport is PHONE else 1)
    page = open_page(viewport)
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("group", name="您对本次服务满意吗？（必选）").is_visible()
    violations = axe(page)
    assert not violations, violations
    no_scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_scroll, "nothing wider than the screen"
    fill(page, 2, "等了一个小时才办完", ("wait", "slow"), "138 0013 8000")
    submit(page)
    assert page.get_by_role("status").inner_text() == "您的评价已收到。"
    assert not axe(page)
    token = url.rsplit("/", 1)[1]
    with public_centre.engine.connect() as conn:
        token_id = tokens.verify(conn, token, datetime.now(UTC)).token_id
    [row] = stored(public_centre, token_id=token_id)
    assert (row["level"], sorted(row["reasons"]), row["flag"]) == (2, ["slow", "wait"], None)
    assert row["text"] == "等了一个小时才办完"
    with public_centre.engine.connect() as conn:
        assert conn.execute(select(cases.c.opened_by).where(cases.c.rating_uuid == row["uuid"])).scalar() == \
            "bad_review"


def test_it_works_with_javascript_off_and_a_double_submission_stores_once(public_centre: PublicCentre,
                                                                        open_page: PageMaker) -> None:
    url = issued_url(public_centre, 2)
    page = open_page(PHONE, js=False)
    page.goto(url)
    fill(page, 5, "办事很快，谢谢")
    form_id = page.locator("input[name=form_id]").get_attribute("value")
    submit(page)
    assert page.get_by_role("status").inner_text() == "您的评价已收到。"
    # The same form sent again (a double tap, a retry over a bad network), from the same browser.
    again = page.request.post(url, form={"form_id": str(form_id), "level": "5", "text": "办事很快，谢谢"})
    assert again.status == 200 and "此评价已收到，无需重复提交。" in again.text()
    assert len(stored(public_centre, form_id=form_id)) == 1
    page.go_back()    # the page again is a new form (never cached): a second opinion is a new answer
    assert page.locator("input[name=form_id]").get_attribute("value") != form_id


def test_a_missing_level_shows_the_form_again_with_what_to_fix(public_centre: PublicCentre, phone: Page) -> None:
    phone.goto(issued_url(public_centre, 3))
    expect_refusals(phone)
    before = count(public_centre)
    phone.fill("#text", "没选等级")
    phone.fill("#phone", "12345")
    # The browser itself asks for the required level first; a client that skips that gets the page again.
    phone.evaluate("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    submit(phone)
    alert = phone.get_by_role("alert")
    assert "请选择一个满意程度" in alert.inner_text() and "电话号码格式不正确" in alert.inner_text()
    assert phone.input_value("#text") == "没选等级" and count(public_centre) == before
    assert not axe(phone)


def refused(page: Page, url: str) -> tuple[int, str]:
    expect_refusals(page)
    answer = page.goto(url)
    assert answer is not None
    assert not axe(page)
    return answer.status, page.get_by_role("alert").inner_text()


def test_forged_altered_and_expired_tokens_are_refused_and_store_nothing(public_centre: PublicCentre,
                                                                          phone: Page) -> None:
    url = issued_url(public_centre, 4)
    base, token = url.rsplit("/", 1)
    mac = token.split(".")[1]
    altered = tokens.Token("another-unit", None, datetime.now(UTC).date(), 14, "q1", "x").payload() + "." + mac
    forged = tokens.make(keys.Key("q1", b"guessed" * 5, datetime.now(UTC), None), "unit", None,
                         datetime.now(UTC).date(), 14)
    with public_centre.engine.begin() as conn:
        key = keys.signing_key(conn, keys.QUESTIONNAIRE, datetime.now(UTC))
    unit, counter = public_centre.counters()[4]
    expired = tokens.make(key, unit, counter, datetime.now(UTC).date() - timedelta(days=30), 14)
    before = count(public_centre)
    refusals = ((altered, 403, "无效或已被修改"), (forged, 403, "无效或已被修改"), ("garbage", 403, "无效"),
                (expired, 410, "已过期"))
    for bad, status, words in refusals:
        got, text = refused(phone, f"{base}/{bad}")
        assert (got, words in text) == (status, True), (bad, text)
        answer = requests.post(f"{base}/{bad}", data={"form_id": "a" * 22, "level": "1"}, timeout=10)
        assert answer.status_code == status and "text/html" in answer.headers["content-type"]
    assert count(public_centre) == before


def test_html_in_the_text_is_refused_and_nothing_stored(public_centre: PublicCentre, phone: Page) -> None:
    phone.goto(issued_url(public_centre, 5))
    expect_refusals(phone)
    before = count(public_centre)
    fill(phone, 1, '<script>alert("x")</script>')
    submit(phone)
    assert "未保存任何内容" in phone.get_by_role("alert").inner_text()
    assert count(public_centre) == before
    assert not axe(phone)


def test_an_oversized_or_non_utf8_body_is_refused_with_a_page(public_centre: PublicCentre) -> None:
    url = issued_url(public_centre, 3)
    before = count(public_centre)
    big = requests.post(url, data={"form_id": "b" * 22, "level": "3", "text": "长" * 40_000}, timeout=10)
    assert big.status_code == 413 and "text/html" in big.headers["content-type"] and "过大" in big.text
    latin = requests.post(url, data=b"form_id=cccccccccccccccccccccc&level=3&text=%C4%E3%BA%C3", timeout=10,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert latin.status_code == 422 and "UTF-8" in latin.text
    assert count(public_centre) == before


def test_spam_is_flagged_and_kept(public_centre: PublicCentre, phone: Page) -> None:
    phone.goto(issued_url(public_centre, 0))
    fill(phone, 4, "加微信 abc123 办理代开发票")
    form_id = phone.locator("input[name=form_id]").get_attribute("value")
    submit(phone)
    assert phone.get_by_role("status").inner_text() == "您的评价已收到。"
    [row] = stored(public_centre, form_id=form_id)
    assert (row["text"], row["flag"]) == ("加微信 abc123 办理代开发票", "spam")


def test_too_many_submissions_with_one_code_get_the_429_page(public_centre: PublicCentre, phone: Page) -> None:
    url = issued_url(public_centre, 1)
    limit = PUBLIC_SETTINGS["token_per_hour"]
    # The code's hour may hold other tests' submissions already: send until the limit answers.
    statuses = [requests.post(url, data={"form_id": f"limit-test-form-{n:06d}", "level": "4"}, timeout=10)
                .status_code for n in range(limit)]
    assert set(statuses) <= {200, 429}
    before = count(public_centre)
    phone.goto(url)
    expect_refusals(phone)
    fill(phone, 3)
    submit(phone)
    assert "提交过于频繁" in phone.get_by_role("alert").inner_text()
    assert count(public_centre) == before
    assert not axe(phone)


def test_english_and_the_pages_headers(public_centre: PublicCentre, open_page: PageMaker) -> None:
    url = issued_url(public_centre, 2)
    page = open_page(DESKTOP, locale="en-US")
    answer = page.goto(url)
    assert answer is not None and page.locator("html").get_attribute("lang") == "en"
    headers = answer.headers
    assert "script-src 'none'" in headers["content-security-policy"] and headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    page.get_by_role("link", name="中文").click()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.goto(url)   # the choice is remembered over the browser's language
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert not axe(page)
