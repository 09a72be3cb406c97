"""The console in a real browser: a demo city served by a real centre process on 127.0.0.1, and Debian's
Chromium driven by Playwright (never a browser Playwright downloads).

The demo city is built once per test run (the first worker builds it under a lock, the others copy the file)
and each pytest-xdist worker starts its own centre on it and its own browser. Every page a test opens is
watched: a console error or an uncaught exception on it fails the test.

Accounts (password PASSWORD): office (city office), auditor, district (the first district's office), manager
(the first unit's manager), and lockme (for the lockout test, which is the only one to use it).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page
from sqlalchemy import select

from centre.console import accounts, audit
from centre.db.engine import open_engine
from centre.db.tables import console_users, districts, units
from tests.centre.conftest import REPO, START_TIMEOUT_S, free_port
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - the shared browser's, still importable here

PASSWORD = "console-test-password"
DEMO_UNITS, DEMO_COUNTERS, DEMO_DAYS = 8, 2, 40


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "centre.cli", *args, "--db", db_url], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def _add_accounts(url: str) -> None:
    """The accounts, each as `evaluator centre user add` adds it (the account, and its entry in the audit log), in
    this process: that command's own tests run it; here five starts of the CLI would cost seconds."""
    engine = open_engine(url, create=False)
    try:
        with engine.begin() as conn:
            first_district = conn.execute(select(districts.c.id).order_by(districts.c.id)).scalars().first()
            first_unit = conn.execute(select(units.c.id).where(units.c.district_id == first_district)
                                      .order_by(units.c.id)).scalars().first()
            for name, role, scope in (("office", "city", None), ("auditor", "auditor", None),
                                      ("district", "district", str(first_district)), ("manager", "unit", first_unit),
                                      ("lockme", "unit", first_unit)):
                account = accounts.add(conn, name, role, scope, PASSWORD)
                audit.record(conn, audit.Action.USER_ADDED, account.name, actor="cli:tests", role=None,
                             detail={"role": account.role.value, "scope": account.scope_id})
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This worker's copy of the run's demo city (built once, by whichever worker comes first)."""
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") \
        else tmp_path_factory.getbasetemp()
    built = shared / "console-demo.db"
    with open(shared / "console-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            partial = shared / "console-demo.partial.db"
            partial.unlink(missing_ok=True)
            url = f"sqlite:///{partial}"
            _cli(url, "demo", "--units", str(DEMO_UNITS), "--counters-per-unit", str(DEMO_COUNTERS),
                 "--days", str(DEMO_DAYS))
            _add_accounts(url)
            partial.rename(built)
    mine = tmp_path_factory.mktemp("console") / "demo.db"
    shutil.copyfile(built, mine)
    return mine


@dataclass
class Console:
    url: str              # the centre, e.g. http://127.0.0.1:41234
    db_url: str
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def page_url(self, path: str = "/") -> str:
        return f"{self.url}/console{path}"

    def scope_of(self, name: str) -> str | None:
        engine = open_engine(self.db_url, create=False)
        try:
            with engine.connect() as conn:
                scope: str | None = conn.execute(select(console_users.c.scope_id)
                                                 .where(console_users.c.name == name)).scalar_one()
                return scope
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def console(demo_db: Path) -> Iterator[Console]:
    db_url = f"sqlite:///{demo_db}"
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db_url, "--host", "127.0.0.1",
                                "--port", str(port)], cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True)
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
    url = f"http://127.0.0.1:{port}"
    assert requests.get(url + "/healthz", timeout=10).status_code == 200
    try:
        yield Console(url=url, db_url=db_url, process=process, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A fresh page (new cookies) of size 1366×768, the office PC; fails the test on any console error."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    tab = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    tab.set_default_timeout(15_000)
    REFUSALS_EXPECTED.discard(id(tab))
    try:
        yield tab
    finally:
        context.close()
    # A refused request (403, 404) is logged by Chromium as a console error about the resource: tests that
    # expect one say so (`expect_refusals`), and only that message is then let through.
    expected = id(tab) in REFUSALS_EXPECTED
    unexpected = [e for e in errors if not (expected and "Failed to load resource" in e)]
    assert not unexpected, "\n".join(unexpected)


def login(page: Page, console: Console, name: str, password: str = PASSWORD) -> None:
    page.goto(console.page_url("/login"))
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


REFUSALS_EXPECTED: set[int] = set()


def expect_refusals(page: Page) -> None:
    """This test opens pages the server refuses (403, 404): Chromium's 'Failed to load resource' is expected."""
    REFUSALS_EXPECTED.add(id(page))


def charts_drawn(page: Page) -> list[bool]:
    """For each chart on the page: whether its canvas has anything drawn on it (not blank)."""
    page.wait_for_function("() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('canvas'))")
    drawn: list[bool] = page.evaluate("""() => [...document.querySelectorAll('.chart')].map(chart => {
        const canvas = chart.querySelector('canvas');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) return true; }
        return false;
    })""")
    return drawn


@pytest.fixture
def browser_phone(browser: Browser, console: Console) -> Iterator[Page]:
    """A phone-sized page (390×844, touch)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()
