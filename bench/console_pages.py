"""The console's pages over a city year: server time per page, and the overview's first contentful paint.

What: the city year of bench/centre_reports.py (bench/city_year.py: 1,000 units, 5,000 counters, 20,000,000
ratings of 2025 in PostgreSQL, loaded once and cached by bench/city_load.py; migrated to the schema head if
behind, as `evaluator centre migrate` does, which on an older cache runs the new revisions' backfills:
minutes), or any centre database (--db). A city-office account `bench-office` is added (a new random
password each run, never printed). The centre is served by bench/console_app.py in a process of its own:
`create_app` as `evaluator centre serve` builds it with its defaults (one worker, access log on), plus a bare
Jinja page, `/bench/bare`, the baseline (same process, middleware, thread pool and Jinja environment; no
session, no database), and a Server-Timing header: each answer's time in the app and its CPU. On a city year
the console's "today" is pinned to the year's last day (2025-12-31), so that the pages' default periods
(today, week, month, quarter, the round) hold the city's ratings.
How:
- server time: a requests.Session logs in through the login form (its CSRF field), then GETs every page once
  (a 404 is "not there yet", any other refusal an error: neither is timed; the first answer is the warm-up),
  then --runs times each in turns (one of each page, then again; a page whose warm-up took over ten times
  the goal only --slow-runs times). Each request's wall time on loopback as the client sees it (judged: the
  more conservative), and from the Server-Timing header the app's own time and its process's CPU time (what
  other work on a shared machine changes least); each against the bare page's.
- first contentful paint: Playwright driving Debian's Chromium (1366×768, zh-CN): the overview and the bare
  page, --loads times each in turns, cold (a new browser context each load: no cached CSS or scripts, logged
  in through the context's own requests) and warm (one context, after a first load); FCP is the
  `first-contentful-paint` entry; beside it, when the answer's first byte came (responseStart) and, for the
  overview, when every chart had its canvas.
Goals (the issue): every page ≤ 200 ms at p99 (wall); the overview's first contentful paint ≤ 1.5 s at p99,
judged both cold and warm.
Run: .venv/bin/python bench/console_pages.py [--quick] [--db URL [--today YYYY-MM-DD]] [--sqlite [PATH]]
`--quick`: the city of 1,000,000 ratings (the full city if only that one is cached), 20 runs, 5 loads.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, select

from bench import city_load
from bench.centre_reports import OtherLoad, asked, engine_url, server_facts
from bench.city_load import cached_city, note
from bench.city_year import YEAR, Params
from bench.common import LoopbackServer, percentile
from bench.console_app import BARE_PATH
from centre.console import accounts
from centre.db.engine import migrate, open_engine
from centre.db.tables import rollups
from centre.errors import NotFound
from centre.rollups import Measure

GOAL_PAGE_P99_MS, GOAL_FCP_MS = 200.0, 1500.0
SLOW_MS = 10 * GOAL_PAGE_P99_MS
QUICK_RATINGS = 1_000_000
ACCOUNT = "bench-office"
CHROMIUM = Path("/usr/bin/chromium")
# As tests/console/conftest.py launches it: no sandbox as root, no calls home on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMING = re.compile(r"(\w+);dur=([0-9.]+)")
BARE = "bare Jinja page (baseline)"
PAGES = (("overview", "/console/"), ("overview's coverage (htmx)", "/console/coverage"),
         ("drill: city", "/console/drill"), ("drill: unit {unit}", "/console/drill/unit/{unit}"),
         ("rankings: units, quarter", "/console/rankings?by=unit&period=quarter"),
         ("rankings: districts", "/console/rankings?by=district"), ("round", "/console/round"),
         ("fleet", "/console/fleet"), ("integrity", "/console/integrity"), ("users", "/console/users"),
         ("audit", "/console/audit"))
FCP_JS = """() => new Promise(resolve => {
  const seen = () => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    if (!paint) { requestAnimationFrame(seen); return; }
    resolve([paint.startTime, performance.getEntriesByType('navigation')[0].responseStart]);
  };
  seen();
})"""
CHARTS_JS = """() => new Promise(resolve => {
  const started = performance.now();
  const drawn = () => {
    const charts = [...document.querySelectorAll('.chart')];
    if (charts.length && charts.every(chart => chart.querySelector('canvas'))) resolve(performance.now());
    else if (performance.now() - started > 10000) resolve(null);
    else requestAnimationFrame(drawn);
  };
  drawn();
})"""


@dataclass
class Page:
    name: str
    path: str
    runs: int
    status: int = 0
    size: int = 0
    refused: int = 0                                    # timed GETs answered other than 200
    wall: list[float] = field(default_factory=list)     # ms, the client's
    app: list[float] = field(default_factory=list)      # ms, the server's (its Server-Timing header)
    cpu: list[float] = field(default_factory=list)      # ms of the server process's CPU meanwhile


class Served(LoopbackServer):
    """bench/console_app.py on a free loopback port, its log in `folder`."""

    def __init__(self, db_url: str, today: date | None, folder: Path) -> None:
        super().__init__(lambda port: ["-m", "bench.console_app", "--db", db_url, "--port", str(port),
                                       *(["--today", today.isoformat()] if today else [])],
                         lambda port: folder / "centre.log", start_timeout_s=120, poll_s=0.2)


class ServerLoad(OtherLoad):
    """centre_reports' measure of other processes' CPU, with the served centre's process counted as ours."""

    def __init__(self, engine: Engine, server_pid: int) -> None:
        super().__init__(engine)
        self.server_pid = server_pid

    def _backends(self) -> list[int]:
        return [*super()._backends(), self.server_pid]


# -- the database -------------------------------------------------------------------------------


def open_database(args: argparse.Namespace) -> tuple[Engine, str, str, date | None, str]:
    """(engine, its URL, the unit to drill into, the console's today or None, what the database holds)."""
    if args.db:
        note(f"migrating {args.db} to the schema head if behind")
        found, head = migrate(args.db)
        note(f"schema {found} → {head}" if found != head else f"schema at {head}")
        engine = open_engine(args.db, create=False)
        return engine, args.db, args.unit or busiest_unit(engine), args.today, "the database given"
    params = Params(ratings=args.ratings)
    url = engine_url(args)
    if args.quick and city_load._marker(url) is None:
        full = engine_url(argparse.Namespace(**{**vars(args), "ratings": Params.ratings}))
        if city_load._marker(full) is not None:
            note(f"no cached city of {args.ratings:,} ratings; the full city is cached: using it")
            params, url = Params(), full
    note("opening the city (migrating it to the schema head if behind: a new revision's backfill over a city "
         "year may take minutes)")
    engine, facts = cached_city(url, params, args.jobs)
    held = (f"the city year {YEAR}: {facts['ratings']:,} ratings, {params.units:,} units, "
            f"{params.counters:,} counters (loaded {facts['loaded_at']})")
    return engine, url, args.unit or asked(params).trend_unit, args.today or date(YEAR, 12, 31), held


def busiest_unit(engine: Engine) -> str:
    total = func.sum(rollups.c.n)
    with engine.connect() as conn:
        found = conn.execute(select(rollups.c.unit_id).where(rollups.c.measure == Measure.LEVEL.value)
                             .group_by(rollups.c.unit_id).order_by(total.desc()).limit(1)).scalar()
    if found is None:
        raise SystemExit("the database holds no ratings: give --unit, or a database with a city in it")
    return str(found)


def bench_account(engine: Engine) -> str:
    """A city-office account with a fresh random password (the database may be a real one: nobody else may
    log in with what a bench once set)."""
    password = secrets.token_urlsafe(24)
    with engine.begin() as conn:
        try:
            found = accounts.get(conn, ACCOUNT)
        except NotFound:
            accounts.add(conn, ACCOUNT, "city", None, password)
            return password
        accounts.set_password(conn, ACCOUNT, password)
        if found.role.value != "city":
            accounts.change_role(conn, ACCOUNT, "city", None)
        if found.disabled:
            accounts.set_disabled(conn, ACCOUNT, False)
    return password


# -- server time --------------------------------------------------------------------------------


def logged_in(base: str, password: str) -> requests.Session:
    session = requests.Session()
    form = session.get(base + "/console/login", timeout=30)
    token = CSRF.search(form.text)
    if token is None:
        raise SystemExit("the login page has no csrf field")
    done = session.post(base + "/console/login", timeout=60, data={
        "name": ACCOUNT, "password": password, "csrf": token.group(1), "next": "/console/"})
    if done.status_code != 200 or not done.url.endswith("/console/"):
        raise SystemExit(f"login failed: {done.status_code} at {done.url}")
    return session


def get(session: requests.Session, base: str, page: Page) -> float:
    """One GET: its wall time (ms) kept, the app's too; the status and size of the answer noted."""
    started = time.perf_counter()
    answer = session.get(base + page.path, timeout=600, allow_redirects=False)
    wall = (time.perf_counter() - started) * 1000
    page.status, page.size = answer.status_code, len(answer.content)
    page.refused += answer.status_code != 200
    timing = dict(TIMING.findall(answer.headers.get("server-timing", "")))
    page.wall.append(wall)
    page.app.append(float(timing.get("app", "nan")))
    page.cpu.append(float(timing.get("cpu", "nan")))
    return wall


def time_pages(session: requests.Session, base: str, pages: list[Page], runs: int, slow_runs: int) -> list[Page]:
    """Warm each page up (and find the missing ones), then time the pages there in turns; the pages timed."""
    present = []
    for page in pages:
        took = get(session, base, page)
        page.wall.clear()
        page.app.clear()
        page.cpu.clear()
        page.refused = 0
        if page.status == 404:
            print(f"  {page.name:34} not there yet (404)")
        elif page.status != 200:
            print(f"  {page.name:34} NOT TIMED: answered {page.status}")
        else:
            page.runs = min(page.runs, slow_runs) if took > SLOW_MS else page.runs
            present.append(page)
    for _ in range(runs):
        for page in present:
            if len(page.wall) < page.runs:
                get(session, base, page)
    return present


def show_pages(pages: list[Page], bare: Page) -> list[tuple[str, bool]]:
    base_wall, base_cpu = percentile(bare.wall, 50), percentile(bare.cpu, 50)
    print(f"{'':34} {'runs':>5} {'KiB':>6} {'wall p50':>9} {'wall p99':>9} {'app p50':>8} {'app p99':>8} "
          f"{'cpu p50':>8} {'÷ bare: wall':>12} {'cpu':>6}")
    verdicts = []
    for page in [bare, *pages]:
        wall50, wall99, cpu50 = percentile(page.wall, 50), percentile(page.wall, 99), percentile(page.cpu, 50)
        ratios = "" if page is bare else f"{wall50 / base_wall:11.1f}× {cpu50 / base_cpu:5.1f}×"
        print(f"{page.name:34} {len(page.wall):5} {page.size / 1024:6.1f} {wall50:9.1f} {wall99:9.1f} "
              f"{percentile(page.app, 50):8.1f} {percentile(page.app, 99):8.1f} {cpu50:8.1f} {ratios:>19}")
        if page is not bare:
            refused = f", {page.refused} answered other than 200" if page.refused else ""
            verdicts.append((f"{page.name}: p99 {wall99:.1f} ms (app {percentile(page.app, 99):.1f} ms){refused}",
                             wall99 <= GOAL_PAGE_P99_MS and not page.refused))
    print("(ms. wall: the request on loopback as the client sees it, requests and HTTP parsing included; app: "
          "the server's own, from the request's arrival to the start of its answer; cpu: the server process's "
          "CPU meanwhile, on SQLite the database's work included, on PostgreSQL not)")
    return verdicts


# -- first contentful paint ---------------------------------------------------------------------


@dataclass
class Paints:
    name: str
    fcp: list[float] = field(default_factory=list)
    first_byte: list[float] = field(default_factory=list)
    charts: list[float] = field(default_factory=list)


def paints(base: str, password: str, loads: int) -> list[tuple[str, Paints, Paints]]:
    """(cache state, overview, bare) after `loads` loads of each in turns, cold and warm."""
    from playwright.sync_api import BrowserContext, sync_playwright

    def login(context: BrowserContext) -> None:
        # through the context's own requests, which share its cookies: the page cache stays cold
        form = context.request.get(base + "/console/login").text()
        token = CSRF.search(form)
        assert token is not None
        context.request.post(base + "/console/login", max_redirects=0, form={
            "name": ACCOUNT, "password": password, "csrf": token.group(1), "next": "/console/"})

    def load(context: BrowserContext, path: str, into: Paints) -> None:
        tab = context.new_page()
        tab.goto(base + path, wait_until="load")
        if not tab.url.endswith(path):
            raise SystemExit(f"Chromium was sent to {tab.url}, not {path}: the login did not hold")
        fcp, first_byte = tab.evaluate(FCP_JS)
        into.fcp.append(fcp)
        into.first_byte.append(first_byte)
        if path != BARE_PATH:
            drawn = tab.evaluate(CHARTS_JS)
            if drawn is not None:
                into.charts.append(drawn)
        tab.close()

    def fresh(browser: Any) -> BrowserContext:
        context: BrowserContext = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        login(context)
        return context

    found = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            cold = (Paints("overview"), Paints(BARE))
            for _ in range(loads):
                for path, into in (("/console/", cold[0]), (BARE_PATH, cold[1])):
                    context = fresh(browser)
                    load(context, path, into)
                    context.close()
            found.append(("cold (a new context each load: nothing cached)", *cold))
            warm = (Paints("overview"), Paints(BARE))
            context = fresh(browser)
            load(context, "/console/", Paints("warm-up"))
            load(context, BARE_PATH, Paints("warm-up"))
            for _ in range(loads):
                load(context, "/console/", warm[0])
                load(context, BARE_PATH, warm[1])
            context.close()
            found.append(("warm (one context, its cache filled by a first load)", *warm))
        finally:
            browser.close()
    return found


def show_paints(found: list[tuple[str, Paints, Paints]]) -> list[tuple[str, bool]]:
    verdicts = []
    for state, overview, bare in found:
        print(f"\n-- first contentful paint in Chromium, {state}, {len(overview.fcp)} loads each")
        print(f"{'':34} {'FCP p50':>8} {'FCP p99':>8} {'1st byte p50':>13} {'charts p50':>11} {'charts p99':>11}")
        for paint in (bare, overview):
            charts = (f"{percentile(paint.charts, 50):11.0f} {percentile(paint.charts, 99):11.0f}"
                      if paint.charts else f"{'':11} {'':11}")
            print(f"{paint.name:34} {percentile(paint.fcp, 50):8.0f} {percentile(paint.fcp, 99):8.0f} "
                  f"{percentile(paint.first_byte, 50):13.0f} {charts}")
        fcp99 = percentile(overview.fcp, 99)
        print(f"overview ÷ bare (FCP p50): {percentile(overview.fcp, 50) / percentile(bare.fcp, 50):.1f}×   "
              "(ms since navigation start; charts: every chart's canvas in place)")
        verdicts.append((f"overview FCP, {state.split(' (')[0]}: p99 {fcp99:.0f} ms", fcp99 <= GOAL_FCP_MS))
    return verdicts


# -- the run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"the city of {QUICK_RATINGS:,} ratings, 20 runs, 5 loads")
    parser.add_argument("--db", help="any centre database instead of the city year (e.g. a demo city on SQLite)")
    parser.add_argument("--today", type=date.fromisoformat,
                        help="the console's today (default: the city year's last day; with --db, the real one)")
    parser.add_argument("--unit", help="the unit to drill into (default: the busiest)")
    parser.add_argument("--ratings", type=int, default=Params.ratings, help="ratings in the city's year")
    parser.add_argument("--sqlite", nargs="?", const="", metavar="PATH",
                        help="the city on SQLite instead of PostgreSQL (default file /tmp/evaluator-bench-city-N.db)")
    parser.add_argument("--pg-url", help="a PostgreSQL server's URL (default: deploy/postgres.sh's)")
    parser.add_argument("--runs", type=int, help="timed GETs of each page (default 100; --quick 20)")
    parser.add_argument("--slow-runs", type=int, default=5,
                        help=f"timed GETs of a page whose warm-up took over {SLOW_MS:.0f} ms (default %(default)s)")
    parser.add_argument("--loads", type=int, help="browser loads of each page, cold and warm (default 20; --quick 5)")
    parser.add_argument("--no-browser", action="store_true", help="server time only")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes generating the city")
    args = parser.parse_args()
    if args.quick:
        args.ratings = QUICK_RATINGS
    runs, loads = args.runs or (20 if args.quick else 100), args.loads or (5 if args.quick else 20)
    engine, db_url, unit, today, held = open_database(args)
    try:
        password = bench_account(engine)
        with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
            served = Served(db_url, today, Path(folder))
            try:
                return run(args, engine, served, password, unit, today, held, runs, loads)
            finally:
                served.close()
    finally:
        engine.dispose()


def run(args: argparse.Namespace, engine: Engine, served: Served, password: str, unit: str, today: date | None,
        held: str, runs: int, loads: int) -> int:
    print(f"{held}; {server_facts(engine)}; {os.cpu_count()} CPUs")
    print(f"the console's today: {today.isoformat() + ' (pinned)' if today else 'the real one'}; "
          f"drilling into {unit}; {runs} GETs of each page after a warm-up, in turns")
    session = logged_in(served.url, password)
    pages = [Page(name.format(unit=unit), path.format(unit=unit), runs) for name, path in PAGES]
    bare = Page(BARE, BARE_PATH, runs)
    note("timing the pages")
    with ServerLoad(engine, served.process.pid) as other:
        present = time_pages(session, served.url, [bare, *pages], runs, args.slow_runs)
    print(f"\n-- server time per page   (other processes meanwhile: {other.seconds:.1f} CPU-s)")
    if bare not in present:
        print("the bare page did not answer: no baseline")
        return 2
    verdicts = show_pages([page for page in present if page is not bare], bare)
    if not args.no_browser:
        if not CHROMIUM.exists():
            print("\n-- first contentful paint: not measured, no Chromium at /usr/bin/chromium")
        else:
            note("loading the overview and the bare page in Chromium")
            verdicts.extend(show_paints(paints(served.url, password, loads)))
    print(f"\ngoals: every page p99 ≤ {GOAL_PAGE_P99_MS:.0f} ms (wall, on loopback); "
          f"the overview's first contentful paint p99 ≤ {GOAL_FCP_MS / 1000:.1f} s")
    for text, met in verdicts:
        print(f"  {'met   ' if met else 'MISSED'} {text}")
    return 0 if all(met for _, met in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
