"""axe-core in Debian's Chromium on every citizen page of issue #18, at a phone's 390×844 and a desktop's
viewport, in Chinese and in English: 0 serious or critical violations (WCAG 2.1 A and AA rules, and axe's best
practices). One file for the whole issue, so "axe on every citizen page" is one test to read:

- the online questionnaire (/q/{token}, a token the centre issued) and its thanks page after a real submission;
- the complaint form (/c, a demo rating's signed complaint link) and its page after a real submission;
- the receipt (/r) of a bad review with its case, and of a good rating;
- the public results (/results by month and by year), a unit's page, a receipt's inclusion proof;
- the refusals a citizen can meet: a unit that does not exist (404), a forged link (403).

The pages themselves run no script; axe is evaluated through the DevTools protocol (tests/public/conftest.py).
"""
from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from centre.db.tables import devices, ratings
from centre.public import published, tokens
from centre.public.settings import PublicSettings
from centre.reports import unit_zone
from contract import complaint_url, receipt_url
from tests.centre.conftest import REPO
from tests.public.conftest import DESKTOP, PHONE, PUBLIC_SETTINGS, PageMaker, PublicCentre, axe, expect_refusals

UNIT = "dc-banking"
COMBINATIONS = [(PHONE, "zh"), (PHONE, "en"), (DESKTOP, "zh"), (DESKTOP, "en")]


def _day() -> date:
    return published.city_today() - timedelta(days=2)


def _links(centre: PublicCentre) -> dict[str, Any]:
    """Valid links of every kind, to demo ratings of UNIT on a published day."""
    engine, day = centre.engine, _day()
    with engine.connect() as conn:
        zone = unit_zone(conn, UNIT)
        rows = conn.execute(select(ratings.c.uuid, ratings.c.level, ratings.c.device_id, ratings.c.counted_at,
                                   devices.c.secret).join(devices, devices.c.id == ratings.c.device_id)
                            .where(ratings.c.placed_unit_id == UNIT).order_by(ratings.c.seq)).all()
        token = tokens.issue(conn, UNIT, None, datetime.now().astimezone(), PublicSettings(**PUBLIC_SETTINGS))
    on_day = [row for row in rows if datetime.fromisoformat(row.counted_at).astimezone(zone).date() == day]
    bad = [row for row in on_day if row.level <= 2]
    good = next(row for row in on_day if row.level >= 4)

    def signed(make: Any, path: str, row: Any) -> str:
        return str(make(path, row.secret, row.device_id, row.uuid))

    return {"token": token, "bad": [(signed(complaint_url, "/c", row), signed(receipt_url, "/r", row))
                                    for row in bad[:len(COMBINATIONS)]],
            "good_receipt": signed(receipt_url, "/r", good),
            "proof": signed(receipt_url, "/results/proof", good)}


@pytest.fixture(scope="module")
def links(public_centre: PublicCentre) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "centre.cli", "digest", "publish", "--day", _day().isoformat(),
                           "--unit", UNIT, "--db", public_centre.db_url], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return _links(public_centre)


def _with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def _check(page: Page, url: str, status: int, problems: dict[str, Any]) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.status == status, f"{url}: {answer.status if answer else None}"
    found = axe(page)
    if found:
        problems[url] = found


def _submit(page: Page, problems: dict[str, Any], name: str) -> None:
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    found = axe(page)
    if found:
        problems[f"{name} (after submitting)"] = found


@pytest.mark.parametrize(("viewport", "lang"), COMBINATIONS, ids=["phone-zh", "phone-en", "desktop-zh", "desktop-en"])
def test_every_citizen_page_has_no_serious_or_critical_violation(public_centre: PublicCentre, open_page: PageMaker,
                                                                 links: dict[str, Any], viewport: dict[str, int],
                                                                 lang: str) -> None:
    page = open_page(viewport, js=True, locale="zh-CN" if lang == "zh" else "en-GB")
    expect_refusals(page)
    base, problems = public_centre.url, {}
    complaint, receipt = links["bad"][COMBINATIONS.index((viewport, lang))]
    pages = [(f"/results?period=month&date={_day().isoformat()}", 200), ("/results?period=year", 200),
             (f"/results/units/{UNIT}", 200), (links["proof"], 200), (links["good_receipt"], 200), (receipt, 200),
             ("/results/units/no-such-unit", 404), (links["good_receipt"][:-1] + "x", 422),
             (links["proof"][:-2] + ("00" if not links["proof"].endswith("00") else "11"), 403)]
    for path, status in pages:
        _check(page, base + _with_lang(path, lang), status, problems)
    _check(page, base + _with_lang(f"/q/{links['token']}", lang), 200, problems)
    page.locator("input[name=level][value='4']").check()
    _submit(page, problems, "questionnaire")
    _check(page, base + _with_lang(complaint, lang), 200, problems)
    page.fill("#text", "等候时间太长，希望增加窗口。" if lang == "zh" else "The wait was too long.")
    _submit(page, problems, "complaint")
    assert not problems, problems
