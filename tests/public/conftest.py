"""The citizen pages in a real browser: a small demo city served by a real centre process on 127.0.0.1 (with a
city config that gives it its public address), and Debian's Chromium driven by Playwright (never a browser
Playwright downloads), at a phone's viewport (390×844) and a desktop's.

The demo city is built once per test run (the first worker builds it under a lock, the others copy the file);
each pytest-xdist worker starts its own centre on its copy; the browser is the process's one (tests/conftest.py).
Every page a test opens is watched: a console error (a CSP refusal among them) or an uncaught exception fails
the test, except the "Failed to load resource" of a refusal the test expects (`expect_refusals`).

`axe(page)` runs axe-core (node_modules/axe-core, a test-only npm package: never served) in the page and
returns its serious and critical violations.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page
from sqlalchemy import Engine, select

from centre import enroll
from centre.db.engine import open_engine
from centre.db.tables import counters
from contract import EnrollRequest
from tests.centre.conftest import REPO, START_TIMEOUT_S, free_port
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - the shared browser's, still importable here

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
DEMO_UNITS, DEMO_COUNTERS, DEMO_DAYS = 3, 2, 7
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
# The test centre's `public:` settings: a tight limit per token (the rate-limit test fills one token's hour),
# a loose one per address (every test comes from 127.0.0.1).
PUBLIC_SETTINGS: dict[str, Any] = {"token_per_hour": 5, "address_per_hour": 10_000, "pages_per_minute": 10_000}


def _cli(db_url: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "centre.cli", *args, "--db", db_url], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def public_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This worker's copy of the run's small demo city (built once, by whichever worker comes first)."""
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") \
        else tmp_path_factory.getbasetemp()
    built = shared / "public-demo.db"
    with open(shared / "public-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            partial = shared / "public-demo.partial.db"
            partial.unlink(missing_ok=True)
            _cli(f"sqlite:///{partial}", "demo", "--units", str(DEMO_UNITS), "--counters-per-unit",
                 str(DEMO_COUNTERS), "--days", str(DEMO_DAYS))
            partial.rename(built)
    mine = tmp_path_factory.mktemp("public") / "demo.db"
    shutil.copyfile(built, mine)
    return mine


@dataclass
class PublicCentre:
    url: str              # the centre, e.g. http://127.0.0.1:41234: also its configured public base_url
    db_url: str
    engine: Engine
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def counters(self) -> list[tuple[str, str]]:
        """(unit, counter) of the demo city, in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(counters.c.unit_id, counters.c.id)
                                .order_by(counters.c.unit_id, counters.c.id)).all()
        return [(row.unit_id, row.id) for row in rows]

    def enroll_terminal(self, unit: str | None = None, counter: str | None = None) -> dict[str, Any]:
        """Enroll a terminal through the real /v1/enroll: its response (device_id, secret, config) as JSON."""
        if unit is None or counter is None:
            unit, counter = self.counters()[0]
        code = enroll.create_code(self.engine, unit, counter)
        answer = requests.post(f"{self.url}/v1/enroll", timeout=30,
                               json=EnrollRequest(code=code, app_version="test").model_dump(mode="json"))
        assert answer.status_code == 200, answer.text
        enrolled: dict[str, Any] = answer.json()
        return enrolled


@pytest.fixture(scope="session")
def public_centre(public_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublicCentre]:
    db_url = f"sqlite:///{public_db}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path_factory.mktemp("public-config") / "centre.yaml"
    config.write_text(json.dumps({"public": {"base_url": url, **PUBLIC_SETTINGS}}), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db_url, "--host", "127.0.0.1",
                                "--port", str(port), "--config", str(config)], cwd=REPO, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
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
    assert requests.get(url + "/healthz", timeout=10).status_code == 200
    engine = open_engine(db_url, create=False)
    try:
        yield PublicCentre(url=url, db_url=db_url, engine=engine, process=process, log=log)
    finally:
        engine.dispose()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


REFUSALS_EXPECTED: set[int] = set()


def expect_refusals(page: Page) -> None:
    """This test opens pages the server refuses (4xx): Chromium's 'Failed to load resource' is expected."""
    REFUSALS_EXPECTED.add(id(page))


PageMaker = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser, public_centre: PublicCentre) -> Iterator[PageMaker]:
    """open_page(viewport=PHONE, js=True, locale="zh-CN"): a fresh page in a fresh context, watched for console
    errors (checked when the test ends)."""
    contexts, watched = [], []

    def make(viewport: dict[str, int] = PHONE, js: bool = True, locale: str = "zh-CN") -> Page:
        phone = viewport["width"] < 600
        context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, locale=locale,
                                      java_script_enabled=js)
        contexts.append(context)
        tab = context.new_page()
        errors: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(f"console: {message.text}")

        tab.on("console", on_console)
        tab.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        tab.set_default_timeout(15_000)
        watched.append((tab, errors))
        return tab

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
    problems = []
    for tab, errors in watched:
        expected = id(tab) in REFUSALS_EXPECTED
        REFUSALS_EXPECTED.discard(id(tab))
        problems += [e for e in errors if not (expected and "Failed to load resource" in e)]
    assert not problems, "\n".join(problems)


@pytest.fixture
def phone(open_page: PageMaker) -> Page:
    """A phone-sized page (390×844, touch), Chinese."""
    return open_page(PHONE)


@pytest.fixture
def desktop(open_page: PageMaker) -> Page:
    """A desktop page (1366×768), Chinese."""
    return open_page(DESKTOP)


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A and AA rules).

    Evaluated through the DevTools protocol, which the page's CSP (no script at all) does not govern; the
    page must be in a context with JavaScript on."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make setup` (npm ci installs axe-core, a dev dependency)")
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    violations: list[dict[str, Any]] = page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return violations
