"""The web questionnaire's answers in the console (issue #18): the drill-down shows their figures in a tile of
their own, apart from the score, and the answers page lists each text with its flag, flagged texts kept."""
from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine, select

from centre.db.engine import open_engine
from centre.db.tables import counters
from centre.public import webratings
from centre.public.abuse import clean_text
from centre.public.settings import PublicSettings
from centre.public.tokens import Token
from tests.console.conftest import Console, login


@pytest.fixture
def engine(console: Console) -> Iterator[Engine]:
    opened = open_engine(console.db_url, create=False)
    try:
        yield opened
    finally:
        opened.dispose()


def answer_online(engine: Engine, level: int, text: str) -> str:
    with engine.connect() as conn:
        unit, counter = conn.execute(select(counters.c.unit_id, counters.c.id).order_by(counters.c.unit_id)).first()
    form_id = uuid_mod.uuid4().hex
    now = datetime.now(UTC)
    answer = webratings.Answer(form_id=form_id, level=level, reasons=("wait",), text=clean_text(text), phone="",
                               consent=False)
    webratings.store(engine, Token(unit, counter, now.date(), 14, "q1", "t"), answer, now, PublicSettings())
    return str(unit)


def test_the_office_reads_web_answers_apart_and_flagged(page: Page, console: Console, engine: Engine) -> None:
    unit = answer_online(engine, 4, "窗口很好 " + uuid_mod.uuid4().hex[:6])
    answer_online(engine, 1, "加微信 代开发票 " + uuid_mod.uuid4().hex[:6])
    login(page, console, "office")
    page.goto(console.page_url(f"/drill/unit/{unit}?period=day"))
    tile = page.locator(".tile.web-ratings")
    assert int(tile.locator(".web-rated").inner_text()) >= 2
    assert "不计入" in tile.inner_text()
    tile.get_by_role("link").click()
    rows = page.locator("table.web-comments tbody tr")
    assert rows.count() >= 2
    flagged = page.locator("tr.flagged", has_text="加微信 代开发票")
    assert flagged.count() >= 1 and "疑似广告" in flagged.first.inner_text()
    page.get_by_role("link", name="只看被标记的").click()
    assert page.locator("table.web-comments tbody tr:not(.flagged)").count() == 0
