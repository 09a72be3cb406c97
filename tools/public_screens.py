"""Screenshots of every citizen page at a phone's and a desktop's size, in both languages: docs/screenshots/public/.

    python -m tools.public_screens                 # a demo city in a temporary folder, then every page
    python -m tools.public_screens --db URL        # an existing database (rounds and cases are added to it)

Builds the demo city (`evaluator centre demo`), records a model-unit round with a title withdrawn and a few
rectified cases (through centre/modelround.py and centre/cases/flow.py, as the console would), starts a real
centre on 127.0.0.1 with its public address configured and drives Debian's Chromium through Playwright: the
results, a unit's page, a receipt's inclusion proof, the receipt, the complaint form and the questionnaire
(each form also after a real submission), and a refusal, at 390×844 and 1366×768, in Chinese and English.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from sqlalchemy import Engine, select

from centre.cases import flow
from centre.cases.model import Actor, ActorRole
from centre.db.engine import open_engine
from centre.db.loop_tables import cases
from centre.db.tables import devices, model_rounds, model_titles, ratings
from centre.errors import BadInput
from centre.modelround import Eligibility, apply, candidates, confirm, record_check, withdraw, year_figures
from centre.public import tokens
from centre.public.published import city_today
from centre.public.settings import PublicSettings
from contract import complaint_url, receipt_url

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots" / "public"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SIZES: dict[str, ViewportSize] = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}
OFFICE = Actor("screens-office", ActorRole.CITY)


def _centre(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "centre.cli", *args], cwd=REPO, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rounds(engine: Engine) -> None:
    """Last year's round recorded with two titles, this year's: the one below target withdrawn, the best named."""
    year = city_today().year
    figures = year_figures(engine, year)
    with engine.begin() as conn:
        if conn.execute(select(model_rounds.c.year).where(model_rounds.c.year == year - 1)).first() is not None:
            return
        standings = candidates(conn, year, figures).standings
        best = [s.unit_id for s in standings if s.eligibility is Eligibility.CANDIDATE][:2]
        short = [s.unit_id for s in standings if s.eligibility is not Eligibility.CANDIDATE][:1]
        at = f"{year - 1}-12-20T02:00:00.000000+00:00"
        conn.execute(model_rounds.insert().values(year=year - 1, target="0.80", titles=60, confirmed_by=OFFICE.name,
                                                  confirmed_at=at))
        conn.execute(model_titles.insert(), [
            {"year": year - 1, "unit_id": unit, "awarded_by": OFFICE.name, "awarded_at": at, "withdrawn_in": None,
             "withdrawn_by": None, "withdrawn_at": None, "withdrawal_reason": None} for unit in [*best[:1], *short]])
    with engine.begin() as conn:
        for unit in short:
            withdraw(conn, year, unit, "全年好评率95%置信区间下限低于80%的标准", figures, OFFICE.name)
        for unit in best:
            apply(conn, year, unit, OFFICE.name)
            record_check(conn, year, unit, "open_visit", "passed", "", OFFICE.name)
    try:
        with engine.begin() as conn:
            confirm(conn, year, figures, OFFICE.name)
    except BadInput as exc:   # every candidate held (an overdue case, an integrity flag): last year's notice only
        print(f"this year's round not confirmed: {exc.message}", file=sys.stderr)


def _rectify(engine: Engine, count: int = 12) -> None:
    """A few cases taken through the loop, so the rectification table shows more than zeros."""
    with engine.begin() as conn:
        found = conn.execute(select(cases.c.id, cases.c.unit_id).where(cases.c.state == "new")
                             .order_by(cases.c.rated_at.desc()).limit(count)).all()
        for index, (case_id, unit) in enumerate(found):
            flow.assign(conn, case_id, OFFICE, assignee="窗口负责人")
            flow.rectify(conn, case_id, Actor("manager", ActorRole.UNIT, (unit,)), cause="等候时间长",
                         measures="高峰时段增开窗口")
            if index % 2 == 0:
                flow.verify(conn, case_id, OFFICE)
            if index % 4 == 0:
                flow.close(conn, case_id, OFFICE)


def _paths(engine: Engine, base: str) -> dict[str, str]:
    """Each page to shoot: its file stem and its path (the signed links from a demo rating of two days ago)."""
    day = city_today() - timedelta(days=2)
    with engine.connect() as conn:
        rows = conn.execute(select(ratings.c.uuid, ratings.c.level, ratings.c.device_id, ratings.c.placed_unit_id,
                                   ratings.c.placed_counter_id, devices.c.secret)
                            .join(devices, devices.c.id == ratings.c.device_id)
                            .where(ratings.c.counted_at >= day.isoformat(),
                                   ratings.c.counted_at < (day + timedelta(days=1)).isoformat())
                            .order_by(ratings.c.seq)).all()
    bad = next(row for row in rows if row.level <= 2)
    good = next(row for row in rows if row.level >= 4 and row.placed_unit_id == bad.placed_unit_id)
    settings = PublicSettings(base_url=base)
    questionnaire = tokens.questionnaire_url(engine, bad.placed_unit_id, bad.placed_counter_id, datetime.now(UTC),
                                             settings) or ""
    return {"results": "/results", "results-year": "/results?period=year",
            "unit": f"/results/units/{bad.placed_unit_id}",
            "proof": receipt_url("/results/proof", good.secret, good.device_id, good.uuid),
            "receipt": receipt_url("/r", bad.secret, bad.device_id, bad.uuid),
            "complaint": complaint_url("/c", bad.secret, bad.device_id, bad.uuid),
            "questionnaire": questionnaire.removeprefix(base), "not-found": "/results/units/no-such-unit"}


def _shot(page: Page, name: str) -> Path:
    target = OUT / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


def _submitted(page: Page, stem: str, suffix: str) -> Path:
    """The form on the page filled and sent (no script: a plain POST), then its answer shot."""
    if stem == "questionnaire":
        page.locator("input[name=level][value='5']").check()
    else:
        page.fill("#text", "等候时间太长，希望高峰时段增加窗口。")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    return _shot(page, f"{stem}-done-{suffix}")


def _shoot_all(browser: Browser, base: str, paths: dict[str, str]) -> list[Path]:
    written = []
    for size, viewport in SIZES.items():
        for lang in ("zh", "en"):
            phone = size == "phone"
            context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone,
                                          java_script_enabled=False, locale="zh-CN" if lang == "zh" else "en-GB")
            page = context.new_page()
            for stem, path in paths.items():
                page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
                written.append(_shot(page, f"{stem}-{size}-{lang}"))
                if stem in ("questionnaire", "complaint"):
                    written.append(_submitted(page, stem, f"{size}-{lang}"))
            context.close()
    return written


def _published_week(base: str, engine: Engine) -> None:
    """Wait (up to a minute) until the server's housekeeping has published the last week's digests."""
    with engine.connect() as conn:
        unit = conn.execute(select(ratings.c.placed_unit_id).limit(1)).scalar()
    for _ in range(300):
        if len(requests.get(f"{base}/digests/{unit}", timeout=5).json().get("digests", [])) >= 7:
            return
        time.sleep(0.2)


def shoot(db_url: str) -> list[Path]:
    engine = open_engine(db_url, create=False)
    _rounds(engine)
    _rectify(engine)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="public-screens-config-") as folder:
        config = Path(folder) / "centre.yaml"
        config.write_text(json.dumps({"public": {"base_url": base}}), encoding="utf-8")
        server = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db_url, "--port", str(port),
                                   "--config", str(config)], cwd=REPO, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(150):
                try:
                    requests.get(f"{base}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.2)
            _centre("digest", "publish", "--day", (city_today() - timedelta(days=2)).isoformat(), "--db", db_url)
            _published_week(base, engine)
            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                written = _shoot_all(browser, base, _paths(engine, base))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
            engine.dispose()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing centre database (default: a new demo city)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="public-screens-") as folder:
        db_url = args.db or f"sqlite:///{Path(folder) / 'demo.db'}"
        if not args.db:
            print("building the demo city…", file=sys.stderr)
            _centre("demo", "--units", "6", "--counters-per-unit", "2", "--days", "60", "--db", db_url)
        for path in shoot(db_url):
            print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
