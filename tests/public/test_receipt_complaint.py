"""The receipt (/r) and the complaint form (/c) in Chromium, at a phone's viewport and a desktop's, from a real
terminal's links.

The terminal is real processes: `evaluator provision` enrolls it at the centre (its centre.yaml then carries
the centre's complaint and receipt pages), `evaluator run --headless` takes a bad review from a panel
simulated on a pty (`evaluator panel-sim`), and `evaluator sync --once` (the real uploader) sends it. The QR
code's payload is what the terminal's thanks screen would show for that rating: its own Presenter with its
own signers (evaluator.terminal complaint_link, receipt_link) over its own store's rating and its own
settings; the Kivy screen drawing and scanning that payload is tests/kiosk/ui/test_receipt_qr.py. The office's
steps on the case (rectify, verify) are the case domain's functions on the centre's database.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from sqlalchemy import func, select

from centre import enroll
from centre.cases import flow, views
from centre.cases.model import Actor, ActorRole
from centre.db.loop_tables import case_events, cases
from centre.db.public_tables import citizen_contacts, complaints, receipt_misses
from centre.db.rows import utcnow
from centre.db.tables import ratings
from centre.public.complaintcases import join_waiting
from centre.public.settings import PublicSettings
from evaluator.terminal import complaint_link, open_store, receipt_link
from kiosk.config import Locale, Settings, load
from kiosk.rating.service import State, View
from kiosk.screens.presenter import Presenter
from kiosk.store import StoredRating
from kiosk.store.tables import Channel
from sync.provision import provision
from tests.public.conftest import DESKTOP, PHONE, PageMaker, PublicCentre, axe, expect_refusals
from tests.terminalkit import evaluator, newest_rating, pressed_on_the_panel, synced

CITY = Actor("city-officer", ActorRole.CITY)
NUMBER = "13812345678"


def enrolled_terminal(centre: PublicCentre, folder: Path, process: bool = False) -> tuple[Path, Settings]:
    """A terminal's config.yaml, enrolled at the centre by `evaluator provision` (a process) or by the same
    function in this process (`process` False: a second and a half less)."""
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text("sync: {connect_timeout_s: 5, read_timeout_s: 10}\n", encoding="utf-8")
    unit, counter = centre.counters()[0]
    code = enroll.create_code(centre.engine, unit, counter)
    if process:
        done = evaluator(config, "provision", "--server", centre.url, "--code", code)
        assert done.returncode == 0, done.stderr
    else:
        provision(load(config), centre.url, code, config)
    settings = load(config)
    # The centre sent its own pages with the config: the terminal signs each rating's link to them.
    assert (settings.citizen.complaint_url, settings.citizen.receipt_url) == (f"{centre.url}/c", f"{centre.url}/r")
    return config, settings


def bad_review_on_the_panel(config: Path) -> None:
    """`evaluator run --headless` takes K5 (非常不满意) from a panel simulated on a pty, then stops."""
    pressed_on_the_panel(config, "K5", "K5 → level 1 counted")


def thanks_qr(settings: Settings, rating: StoredRating) -> str:
    """The payload of the QR code the terminal's thanks screen shows for `rating`."""
    presenter = Presenter(settings, complaint_link(settings), receipt_link=receipt_link(settings))
    view = View(state=State.THANKS, mode=settings.mode, accepting=False, rating=rating)
    return presenter.present(view, Locale.ZH).qr_payload


def no_serious_violations(page: Page, js: bool) -> None:
    if js:
        assert axe(page) == [], page.url


def case_row(centre: PublicCentre, uuid: str) -> dict[str, Any]:
    with centre.engine.connect() as conn:
        return dict(conn.execute(select(cases).where(cases.c.rating_uuid == uuid)).mappings().one())


@pytest.mark.parametrize(("viewport", "js"), [(PHONE, True), (DESKTOP, False)], ids=["phone", "desktop-no-js"])
def test_a_bad_review_from_a_real_terminal_to_a_complaint_and_a_verdict(
        public_centre: PublicCentre, open_page: PageMaker, tmp_path: Path, viewport: dict[str, int],
        js: bool) -> None:
    config, settings = enrolled_terminal(public_centre, tmp_path / "terminal", process=True)
    bad_review_on_the_panel(config)
    rating = newest_rating(settings)
    synced(config)
    scanned = thanks_qr(settings, rating)
    # One QR code after a bad review: the receipt, whose page offers the complaint (both are the centre's pages).
    assert scanned.startswith(f"{public_centre.url}/r?r={rating.uuid}&")
    page = open_page(viewport, js=js)
    expect_refusals(page)                                     # the refused HTML and the form sent back, below
    page.goto(scanned)
    assert "已计入统计" in page.inner_text("#arrival") and "非常不满意" in page.inner_text("main")
    assert page.inner_text("#case-stage") == "已立案"
    no_serious_violations(page, js)

    page.get_by_role("link", name="我要投诉").click()
    assert page.url.startswith(f"{public_centre.url}/c?") and page.get_by_role("heading", name="投诉").is_visible()
    no_serious_violations(page, js)
    page.fill("#text", "<b>等了一个小时</b>")                  # HTML is refused, nothing stored
    page.click("button[type=submit]")
    assert "未保存任何内容" in page.inner_text("main")
    page.go_back()
    page.fill("#text", "等了一个小时，窗口无人解释。")
    page.fill("#phone", NUMBER)
    page.click("button[type=submit]")                         # the number without the consent: asked again
    assert "勾选同意" in page.inner_text("#problems")
    no_serious_violations(page, js)
    page.check("#consent")
    page.click("button[type=submit]")
    assert "已转入这次评价的工单" in page.inner_text("[role=status]")
    no_serious_violations(page, js)

    case = case_row(public_centre, rating.uuid)
    with public_centre.engine.connect() as conn:
        [complaint] = conn.execute(select(complaints).where(complaints.c.rating_uuid == rating.uuid)).mappings()
        [contact] = conn.execute(select(citizen_contacts).where(citizen_contacts.c.rating_uuid == rating.uuid)) \
            .mappings()
        details = conn.execute(select(case_events.c.kind, case_events.c.detail)
                               .where(case_events.c.case_id == case["id"])).all()
    assert complaint["text"] == "等了一个小时，窗口无人解释。" and contact["phone"] == NUMBER
    assert [kind for kind, _ in details] == ["opened", "joined"] and NUMBER not in str(details)
    assert case["contact_due_at"] is not None                 # the caller's deadline runs for the number

    with public_centre.engine.begin() as conn:
        flow.assign(conn, case["id"], CITY, assignee="窗口主管")
        flow.rectify(conn, case["id"], CITY, cause="高峰时段只开一个窗口",
                     measures="高峰时段加开两个窗口，并设引导员。")
        flow.verify(conn, case["id"], CITY)
    page.goto(scanned)
    assert page.inner_text("#case-stage") == "整改已核实" and "加开两个窗口" in page.inner_text("main")
    no_serious_violations(page, js)
    page.check("#verdict-basically")
    page.click("button[type=submit]")
    assert "已记录" in page.inner_text("#given") and "基本满意" in page.inner_text("#verdict")
    with public_centre.engine.connect() as conn:
        timeline = views.case_detail(conn, case["id"], CITY).events
    assert [(event.kind.value, event.detail.get("verdict"), event.detail.get("source")) for event in timeline
            if event.kind.value == "verdict"] == [("verdict", "basically", "receipt")]
    assert page.locator("#verdict-satisfied").count() == 0      # asked no more
    again = page.request.post(scanned, form={"verdict": "satisfied"})   # the form sent again all the same
    assert again.status == 200 and "只记录一次" in again.text()
    assert case_row(public_centre, rating.uuid)["verdict"] == "basically"


def test_the_complaint_qr_opens_the_form_directly_when_no_receipt_is_shown(
        public_centre: PublicCentre, open_page: PageMaker, tmp_path: Path) -> None:
    config, settings = enrolled_terminal(public_centre, tmp_path / "terminal")
    settings = settings.model_copy(update={"citizen": settings.citizen.model_copy(update={"receipt_after": "never"})})
    store = open_store(settings)
    try:
        stored = store.append_rating(2, Channel.PANEL, "open")
    finally:
        store.close()
    scanned = thanks_qr(settings, stored)
    assert scanned.startswith(f"{public_centre.url}/c?r={stored.uuid}&")
    page = open_page(DESKTOP)
    page.goto(scanned)                                        # the rating is still on the terminal: it waits
    assert page.get_by_role("heading", name="投诉").is_visible()
    page.fill("#text", "材料清单没有告知清楚。")
    page.click("button[type=submit]")
    assert "送达后投诉将自动并入" in page.inner_text("[role=status]")
    assert axe(page) == []
    synced(config)
    assert join_waiting(public_centre.engine, utcnow(), PublicSettings()) == 1   # `serve`'s sweep, run now
    with public_centre.engine.connect() as conn:
        kinds = conn.execute(select(case_events.c.kind).join(cases).where(cases.c.rating_uuid == stored.uuid)
                             .order_by(case_events.c.id)).scalars().all()
    assert kinds == ["opened", "joined"]


def test_a_receipt_before_the_rating_arrives_says_so_and_records_the_miss(
        public_centre: PublicCentre, open_page: PageMaker, tmp_path: Path) -> None:
    config, settings = enrolled_terminal(public_centre, tmp_path / "terminal")
    store = open_store(settings)
    try:
        stored = store.append_rating(4, Channel.PANEL, "open")
    finally:
        store.close()
    link = receipt_link(settings)(stored.uuid)
    assert link is not None
    page = open_page(DESKTOP)
    page.goto(link)
    assert "尚未送达" in page.inner_text("#arrival") and page.get_by_role("link", name="我要投诉").is_visible()
    assert axe(page) == []
    synced(config)
    page.goto(link + "&lang=en")
    assert "counted" in page.inner_text("#arrival") and "Satisfied" in page.inner_text("main")
    assert page.locator("#case-stage").count() == 0            # a good rating: no case
    assert axe(page) == []
    with public_centre.engine.connect() as conn:
        miss = conn.execute(select(receipt_misses).where(receipt_misses.c.rating_uuid == stored.uuid)).mappings() \
            .one()
        received = conn.execute(select(ratings.c.received_at).where(ratings.c.uuid == stored.uuid)).scalar_one()
    assert miss["lookups"] == 1 and miss["found_at"] == received


def test_forged_and_altered_links_are_refused_and_nothing_is_stored(
        public_centre: PublicCentre, open_page: PageMaker, tmp_path: Path) -> None:
    _config, settings = enrolled_terminal(public_centre, tmp_path / "terminal")
    uuid = "0b6b6a9e-6c1f-4a41-9d5e-2f7f0c1e9a10"
    receipt, complaint = receipt_link(settings)(uuid), complaint_link(settings)(uuid)
    assert receipt and complaint
    signature = re.search(r"&s=([0-9a-f]+)", receipt)
    assert signature is not None
    flipped = signature.group(1)[:-1] + ("0" if signature.group(1)[-1] != "0" else "1")
    refused = [receipt.replace(uuid[:8], "ffffffff"),                          # altered rating
               receipt.replace(signature.group(1), flipped),                   # altered signature
               receipt.replace("/r?", "/c?"),                                  # a receipt link as a complaint link
               complaint.replace("/c?", "/r?"),                                # and the other way round
               f"{public_centre.url}/r?r={uuid}&d={settings.device.id}&s=0123456789abcdef"]   # forged
    with public_centre.engine.connect() as conn:
        before = (conn.execute(select(func.count()).select_from(complaints)).scalar_one(),
                  conn.execute(select(func.count()).select_from(receipt_misses)).scalar_one())
    for viewport in (PHONE, DESKTOP):
        page = open_page(viewport)
        expect_refusals(page)
        for url in refused:
            answer = page.goto(url)
            assert answer is not None and answer.status == 403, url
            assert "此链接无效或已被修改" in page.inner_text("[role=alert]")
        assert axe(page) == []
        answer = page.request.post(complaint.replace("/c?", "/c?x=1&").replace(uuid[:8], "ffffffff"),
                                   form={"form_id": "a" * 22, "text": "伪造"})
        assert answer.status == 403
    with public_centre.engine.connect() as conn:
        after = (conn.execute(select(func.count()).select_from(complaints)).scalar_one(),
                 conn.execute(select(func.count()).select_from(receipt_misses)).scalar_one())
    assert after == before
