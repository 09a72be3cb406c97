"""No page of the console shows a citizen's phone number to a unit manager (nor, today, to anyone: the
call-back list belongs to the cases issue, where only the role that calls back will see one)."""
from __future__ import annotations

import re

from playwright.sync_api import Page
from sqlalchemy import select

from centre.db.engine import open_engine
from centre.db.rows import now_text
from centre.db.tables import callbacks, devices, ratings
from tests.console.conftest import Console, login

PHONE = "13912345678"
PHONE_LIKE = re.compile(r"1[3-9]\d{9}")


def test_a_unit_manager_sees_no_phone_number_on_any_page(page: Page, console: Console) -> None:
    unit = console.scope_of("manager")
    engine = open_engine(console.db_url, create=False)
    with engine.begin() as conn:   # a call-back the citizen left at the manager's own unit
        device = conn.execute(select(devices.c.id).where(devices.c.unit_id == unit)).scalars().first()
        rating = conn.execute(select(ratings.c.uuid).where(ratings.c.delivered_by == device)).scalars().first()
        conn.execute(callbacks.insert().values(device_id=device, id=990001, rating_uuid=rating, phone=PHONE,
                                               consent_version="1", requested_at=now_text(),
                                               received_at=now_text()))
    engine.dispose()
    login(page, console, "manager")
    visited = []
    for link in page.locator("header nav a").all():
        visited.append(link.get_attribute("href"))
    visited += [f"/console/drill/unit/{unit}", "/console/fleet?lang=en"]   # the overview loads its coverage
    for path in visited:
        assert path is not None
        response = page.goto(console.url + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        text = page.content()
        assert PHONE not in text and not PHONE_LIKE.search(page.inner_text("body")), path
    assert len(visited) >= 8
