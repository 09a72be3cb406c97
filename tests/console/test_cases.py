"""The Cases pages in a real browser, on the demo city's bad reviews (the demo is built through the real ingest,
which opens a case for each): each role's reach, the citizen's number seen by the caller alone and audited,
a whole case walked through its forms, evidence refused with the case unchanged, CSRF, and the alerts page
showing a mail server that refuses every delivery.

The module runs its own centre on a copy of the demo city, with a city config file: evidence capped at
2 KiB (so a "too large" file stays far under the request body limit) and SMTP alerts sent to a port of
127.0.0.1 where nothing listens (a dead mail server, for the alerts page). Its writes (call-backs, steps,
accounts) stay in that copy.
"""
from __future__ import annotations

import io
import re
import sqlite3
import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Cookie, Page, expect
from sqlalchemy import func, select

from centre import enroll
from centre.alerts import duty, queue
from centre.callbacks import store_callbacks
from centre.cases.model import OpenedCase
from centre.cases.workdays import load_calendar
from centre.cityconfig import CityConfig
from centre.console import accounts
from centre.db.engine import open_engine
from centre.db.loop_tables import cases
from centre.db.tables import counters, ratings, units
from contract import canonical_json, iso_utc
from evaluator.terminal import open_store
from kiosk.config import load
from kiosk.store.callbacks import CallbackQueue
from tests.centre.conftest import REPO, START_TIMEOUT_S, free_port
from tests.console.conftest import PASSWORD, Console, expect_refusals
from tests.terminalkit import evaluator, newest_rating, pressed_on_the_panel, synced

PHONE = "13987654321"            # the citizen's number on the cases the tests call back
PHONE_LIKE = re.compile(r"1[3-9]\d{9}")
EVIDENCE_MAX = 2048
OTHER_MANAGER = "manager-two"    # the manager of another unit than `manager`'s


def _png(padding: int = 0) -> bytes:
    """A real 1×1 PNG, with `padding` bytes of a text chunk to make it as large as a test needs."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    text = chunk(b"tEXt", b"pad\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + text
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def _call_back(db_url: str, case_id: int, row_id: int) -> None:
    """The citizen of the case's rating leaves a number: the centre's own call-back intake (as POST
    /v1/callbacks stores it, without the HTTP signature), which joins the case and starts its contact clock."""
    engine = open_engine(db_url, create=False)
    try:
        with engine.connect() as conn:
            uuid, device = conn.execute(select(ratings.c.uuid, ratings.c.delivered_by)
                                        .join(cases, cases.c.rating_uuid == ratings.c.uuid)
                                        .where(cases.c.id == case_id)).one()
        now = iso_utc(datetime.now(UTC))
        ack = store_callbacks(engine, device, canonical_json({
            "protocol": 1, "device_id": device, "sent_at": now, "callbacks": [{
                "id": row_id, "rating_uuid": uuid, "phone": PHONE, "consent_version": "0123456789abcdef",
                "requested_at": now}]}))
        assert ack.stored == [row_id], ack
    finally:
        engine.dispose()


def _queue_an_alert(db_url: str, config: CityConfig, unit: str) -> None:
    """The unit's duty manager, and the e-mail of one of its cases queued as ingest queues it (the alerts'
    own queue; the demo city was built before any duty address existed, so its cases queued none)."""
    engine = open_engine(db_url, create=False)
    try:
        duty.set_duty(engine, unit, "duty@example.org", "值班经理")
        with engine.begin() as conn:
            row = conn.execute(select(cases).where(cases.c.unit_id == unit).order_by(cases.c.id)).mappings().first()
            assert row is not None
            opened = OpenedCase(row["id"], row["rating_uuid"], row["unit_id"], row["counter_id"], row["staff_id"],
                                row["level"], (), datetime.fromisoformat(row["opened_at"]), None,
                                datetime.fromisoformat(row["rectify_due_at"]))
            queue.cases_opened(conn, [opened], datetime.now(UTC), config.alerts)
    finally:
        engine.dispose()


@dataclass
class Demo:
    """The module's centre, and the cases and units of its city the tests use."""

    console: Console
    unit: str            # the manager's unit
    numbered: int        # a case of that unit whose citizen left a number: for the caller's view
    walked: int          # a case from a real terminal, its citizen called back: walked through every step
    other_case: int      # a case of another unit


def _prepare(db_url: str, unit: str, config: CityConfig) -> tuple[int, int]:
    """A new case of the manager's unit called back, an account for another unit's manager, an alert queued."""
    engine = open_engine(db_url, create=False)
    with engine.begin() as conn:
        other_unit = conn.execute(select(units.c.id).where(units.c.id != unit).order_by(units.c.id)).scalars().first()
        # The newest cases still being worked (the demo's units work theirs: most are closed by now).
        newest = list(conn.execute(select(cases.c.id).where(cases.c.unit_id == unit,
                                                            cases.c.state.in_(("new", "assigned")))
                                   .order_by(cases.c.id.desc()).limit(2)).scalars())
        other_case = conn.execute(select(func.max(cases.c.id)).where(cases.c.unit_id == other_unit)).scalar_one()
        accounts.add(conn, OTHER_MANAGER, "unit", other_unit, PASSWORD)
    engine.dispose()
    assert len(newest) == 2 and other_case, "the demo city has no bad reviews: no cases to test"
    _call_back(db_url, newest[0], 880001)
    _queue_an_alert(db_url, config, unit)
    return newest[0], int(other_case)


def _from_a_real_terminal(centre: Console, unit: str, folder: Path) -> int:
    """The case walked through every step starts at a real terminal of the manager's unit: enrolled by
    `evaluator provision`, in solicited mode (一次一评), the counter PC's `C` frame then 非常不满意 pressed on a
    panel simulated on a pty (`evaluator run --headless`), the citizen's number left in the terminal's store as
    its call-back screen leaves it, and both sent by the real uploader (`evaluator sync --once`)."""
    engine = open_engine(centre.db_url, create=False)
    with engine.connect() as conn:
        counter = conn.execute(select(counters.c.id).where(counters.c.unit_id == unit)
                               .order_by(counters.c.id)).scalars().first()
    code = enroll.create_code(engine, unit, str(counter))
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text("mode: solicited\nsync: {connect_timeout_s: 5, read_timeout_s: 10}\n", encoding="utf-8")
    done = evaluator(config, "provision", "--server", centre.url, "--code", code)
    assert done.returncode == 0, done.stderr
    pressed_on_the_panel(config, "C 2026L-0042 K5", "K5 → level 1 counted")
    settings = load(config)
    rating = newest_rating(settings)
    assert (rating.mode, rating.case_no, rating.level) == ("solicited", "2026L-0042", 1)
    store = open_store(settings, migrate=False)
    try:
        CallbackQueue(store).add(rating.uuid, PHONE, settings.citizen.callback.consent_version)
    finally:
        store.close()
    synced(config)
    with engine.connect() as conn:
        case = conn.execute(select(cases.c.id, cases.c.state, cases.c.contact_due_at)
                            .where(cases.c.rating_uuid == rating.uuid)).one()
    engine.dispose()
    assert case.state == "new" and case.contact_due_at is not None   # opened at ingest, joined by the call-back
    return int(case.id)


def _serve(db_url: str, config_file: Path) -> Console:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db_url, "--host", "127.0.0.1",
                                "--port", str(port), "--config", str(config_file)], cwd=REPO,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    ready, log = threading.Event(), []

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:   # read to the end, so the pipe never fills and blocks the server
            log.append(line)
            if "Uvicorn running on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or process.poll() is not None:
        process.kill()
        raise RuntimeError("centre did not start:\n" + "".join(log))
    return Console(f"http://127.0.0.1:{port}", db_url, process, log)


@pytest.fixture(scope="module")
def demo(demo_db: Path, console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("cases")
    copy = folder / "cases.db"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(copy) as target:
        source.backup(target)      # a consistent copy, though the shared centre may be writing to it
    raw = {"cases": {"evidence_max_bytes": EVIDENCE_MAX},
           "alerts": {"smtp": {"enabled": True, "host": "127.0.0.1", "port": free_port(), "security": "none",
                               "timeout_s": 2}, "digest": {"enabled": False}}}   # nothing listens on that port
    config_file = folder / "centre.yaml"
    config_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    db_url = f"sqlite:///{copy}"
    unit = str(console.scope_of("manager"))
    numbered, other_case = _prepare(db_url, unit, CityConfig.model_validate(raw))
    served = _serve(db_url, config_file)
    try:
        walked = _from_a_real_terminal(served, unit, folder / "terminal")
        yield Demo(served, unit, numbered, walked, other_case)
    finally:
        served.process.terminate()
        try:
            served.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            served.process.kill()


# Each account's session in the running test, by name: signed in through the form once, it comes back by its
# cookie (a test walking a case between roles would otherwise log in a dozen times; test_login tests the form).
SESSIONS: dict[str, list[Cookie]] = {}


@pytest.fixture(autouse=True)
def _own_sessions() -> Iterator[None]:
    """No test takes up a session another one opened."""
    SESSIONS.clear()
    yield
    SESSIONS.clear()


def sign_in(page: Page, console: Console, name: str, then: str = "/") -> None:
    """Switch to `name`'s session (the cookies in use go), landing on the console page `then`: through the login
    form the first time in a test, by that session's cookie after."""
    page.context.clear_cookies()
    if name in SESSIONS:
        page.context.add_cookies([{"name": kept["name"], "value": kept["value"], "domain": kept["domain"],
                                   "path": kept["path"], "httpOnly": kept["httpOnly"], "sameSite": kept["sameSite"]}
                                  for kept in SESSIONS[name]])
        page.goto(console.page_url(then))
    else:
        page.goto(console.page_url(f"/login?next=/console{then}"))
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
    expect(page).to_have_url(console.page_url(then))
    SESSIONS[name] = page.context.cookies()


def _state(page: Page) -> str:
    return str(page.locator("#case-state").get_attribute("data-state"))


def _events(page: Page) -> list[str]:
    return [str(kind) for kind in page.locator("ol.timeline > li").evaluate_all("els => els.map(e => e.dataset.kind)")]


def _xlsx_text(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        return "".join(book.read(name).decode("utf-8", "replace") for name in book.namelist())


def test_a_unit_manager_sees_only_its_unit_and_never_a_number(page: Page, demo: Demo) -> None:
    expect_refusals(page)
    console = demo.console
    sign_in(page, console, "manager", "/cases")
    rows = page.locator("table.cases tbody tr")
    expect(rows.first).to_be_visible()
    assert set(rows.evaluate_all("els => els.map(e => e.dataset.unit)")) == {demo.unit}
    expect(page.locator(".case-counts [data-state=new] strong")).not_to_have_text("0")
    seen = [page.content()]
    page.click(".case-counts a.overdue-count")                    # the demo's older cases are past due: red
    expect(page.locator("table.cases tbody tr").first).to_have_class(re.compile(r"\boverdue\b"))
    assert page.locator("table.cases tbody tr:not(.overdue)").count() == 0
    for path in (f"/cases/{demo.numbered}", f"/cases?state=new&unit={demo.unit}", f"/drill/unit/{demo.unit}", "/"):
        response = page.goto(console.page_url(path))
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        seen.append(page.content())
    expect(page.locator("#loop [data-figure=reply_rate]")).to_be_visible()   # the overview's loop figures
    export = page.request.get(console.page_url("/cases?format=xlsx"))
    assert export.ok and export.headers["content-type"].startswith("application/vnd.openxmlformats")
    seen.append(_xlsx_text(export.body()))
    for text in seen:
        assert PHONE not in text and not PHONE_LIKE.search(re.sub(r"<[^>]+>", " ", text))
    # Another unit's case and its files, the alerts page, the number of its own unit's case: all refused.
    for path in (f"/cases/{demo.other_case}", f"/cases/{demo.other_case}/files/1", "/alerts"):
        response = page.goto(console.page_url(path))
        assert response is not None and response.status == 403, path
    token = page.locator("meta[name=csrf-token]").get_attribute("content") or ""
    assert page.request.post(console.page_url(f"/cases/{demo.numbered}/number"),
                             form={"csrf": token}).status == 403
    # A step without the session's CSRF token is refused, and the case stays as it was.
    forms: list[dict[str, str | float | bool]] = [{"assignee": "张三"}, {"assignee": "张三", "csrf": "forged"}]
    for form in forms:
        refused = page.request.post(console.page_url(f"/cases/{demo.walked}/assign"), form=form)
        assert refused.status == 403 and "CSRF" in refused.text()
    page.goto(console.page_url(f"/cases/{demo.walked}"))
    assert _state(page) == "new" and _events(page)[-1] != "assigned"


def test_the_caller_alone_sees_the_number_once_and_the_audit_log_says_so(page: Page, demo: Demo) -> None:
    console = demo.console
    sign_in(page, console, "district", f"/cases/{demo.numbered}")
    assert PHONE not in page.content()
    page.click("form[data-form=number] button")
    expect(page.locator("#citizen-number")).to_have_text(PHONE)
    page.goto(console.page_url(f"/cases/{demo.numbered}"))     # shown in that answer only
    assert PHONE not in page.content() and _events(page)[-1] == "number_viewed"
    page.goto(console.page_url("/cases"))                      # nor in the district's list
    assert PHONE not in page.content()
    sign_in(page, console, "office", f"/cases/{demo.numbered}")   # the city is no caller here: no button
    expect(page.locator("form[data-form=number]")).to_have_count(0)
    page.goto(console.page_url("/audit?action=personal_data_viewed"))
    viewed = page.locator("table.audit tbody tr[data-action=personal_data_viewed]").first
    expect(viewed).to_contain_text(f"case:{demo.numbered}")
    expect(viewed).to_contain_text("district")
    assert PHONE not in page.content()


def _take(page: Page, form: str, fields: dict[str, str] | None = None, files: list[Any] | None = None) -> None:
    scope = page.locator(f"form[data-form={form}]")
    for name, value in (fields or {}).items():
        target = scope.locator(f"[name={name}]")
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    if files is not None:
        scope.locator("input[type=file]").set_input_files(files)
    scope.locator("button[type=submit]").click()


LOOP_RATE = re.compile(r'data-figure="(\w+)">.*?<small class="muted">([\d,]+) / ([\d,]+)</small>', re.S)


def _loop_counts(page: Page, console: Console, unit: str) -> dict[str, tuple[int, int]]:
    """The unit's loop figures this month as the console's #loop fragment shows them: each rate's part / whole."""
    body = page.request.get(console.page_url(f"/loop/unit/{unit}?period=month")).text()
    return {key: (int(part.replace(",", "")), int(whole.replace(",", "")))
            for key, part, whole in LOOP_RATE.findall(body)}


def test_a_case_walks_through_its_forms_and_refused_evidence_changes_nothing(page: Page, demo: Demo) -> None:
    expect_refusals(page)
    console, case = demo.console, f"/cases/{demo.walked}"
    sign_in(page, console, "office")
    loop_before = _loop_counts(page, console, demo.unit)
    steps = [("manager", "assign", {"assignee": "张三"}, "assigned"),
             ("district", "contact", {"outcome": "no_answer"}, "assigned"),
             ("district", "contact", {"outcome": "reached", "note": "已联系上"}, "contacted")]
    for who, form, fields, state in steps:
        sign_in(page, console, who, case)
        count = len(_events(page))
        _take(page, form, fields)
        expect(page.locator(".case-notice")).to_be_visible()
        assert _state(page) == state and len(_events(page)) == count + 1
    sign_in(page, console, "manager", case)
    before = _events(page)
    photo = {"name": "photo.png", "mimeType": "image/png", "buffer": _png()}
    refused = [{"name": "big.png", "mimeType": "image/png", "buffer": _png(EVIDENCE_MAX)},
               {"name": "photo.png", "mimeType": "image/png", "buffer": b"#!/bin/sh\nrm -rf /\x00\x01"}]
    for bad, reason in zip(refused, ("bytes allowed", "no known type"), strict=True):
        _take(page, "rectify", {"cause": "高峰时段窗口不足", "measures": "增开窗口"}, [bad])
        expect(page.locator("form[data-form=rectify] [role=alert]")).to_contain_text(reason)
        expect(page.locator("form[data-form=rectify] [name=cause]")).to_have_value("高峰时段窗口不足")
        assert _state(page) == "contacted" and _events(page) == before
    _take(page, "rectify", {"cause": "高峰时段窗口不足", "measures": "增开窗口"}, [photo])
    assert _state(page) == "rectified"
    href = console.url + str(page.locator("ol.timeline li[data-kind=rectified] ul.files a").first.get_attribute("href"))
    served = page.request.get(href)
    assert served.body() == photo["buffer"] and served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"].startswith("attachment") \
        and served.headers["x-content-type-options"] == "nosniff"
    sign_in(page, console, OTHER_MANAGER)                        # another unit's manager: neither case nor file
    assert page.request.get(href).status == 403
    rest = [("district", "send_back", {"reason": "佐证不足"}, "contacted"),
            ("manager", "rectify", {"cause": "高峰时段窗口不足", "measures": "增开窗口，调整排班"}, "rectified"),
            ("district", "verify", {}, "verified"), ("district", "verdict", {"verdict": "satisfied"}, "verified"),
            ("district", "close", {}, "closed")]
    for who, form, fields, state in rest:
        sign_in(page, console, who, case)
        before = _events(page)
        _take(page, form, fields)
        expect(page.locator(".case-notice")).to_be_visible()
        assert _state(page) == state and len(_events(page)) == len(before) + 1, form
    assert _events(page)[-9:] == ["assigned", "contact_attempt", "contacted", "rectified", "sent_back", "rectified",
                                  "verified", "verdict", "closed"]
    page.goto(console.page_url(f"/drill/unit/{demo.unit}"))     # the unit's loop figures count the case
    expect(page.locator("#loop [data-figure=satisfied_rate] strong")).not_to_have_text("—")
    loop_after = _loop_counts(page, console, demo.unit)
    moved = {key: (loop_after[key][0] - loop_before[key][0], loop_after[key][1] - loop_before[key][1])
             for key in loop_before}
    # the case was counted (a bad review, with a number) from its opening: now answered and contacted; its
    # rectification, owed from when it is done (its deadline is weeks away), verified; a satisfied verdict
    assert moved == {"reply_rate": (1, 0), "callback_rate": (1, 0), "rectified_rate": (1, 1),
                     "satisfied_rate": (1, 1)}, moved


def test_the_alerts_page_shows_a_dead_mail_server_and_the_calendar_warning(page: Page, demo: Demo) -> None:
    console = demo.console
    sign_in(page, console, "office", "/alerts")
    deadline = datetime.now(UTC).timestamp() + 15
    while True:     # the housekeeping tries the queued e-mail within about a second of the centre's start
        page.goto(console.page_url("/alerts"))
        if page.locator("table.alert-problems tbody tr").count() or datetime.now(UTC).timestamp() > deadline:
            break
    problem = page.locator("table.alert-problems tbody tr").first
    expect(problem).to_contain_text("duty@example.org")
    expect(problem.locator("td.error")).not_to_be_empty()
    # the alert queued for the unit's duty address, the one the real terminal's bad review queued at ingest and
    # the one its call-back request queued (the call-back deadline starts: the unit hears of it too)
    expect(page.locator("table.deliveries tr[data-state=retrying]")).to_have_count(3)
    expect(page.locator("table.deliveries")).to_contain_text("回访提醒")
    engine = open_engine(console.db_url, create=False)
    with engine.connect() as conn:
        unknown = load_calendar(conn).unknown_years
    engine.dispose()
    page.goto(console.page_url("/cases?lang=en"))
    warning = page.locator(".calendar-warning")
    if unknown:
        expect(warning).to_contain_text(str(min(unknown)))
    else:
        expect(warning).to_have_count(0)
