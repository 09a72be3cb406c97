"""Screenshots of every console page in both languages, for the README: docs/screenshots/console/.

    python -m tools.console_screens                 # a demo city in a temporary folder, then every page
    python -m tools.console_screens --db URL        # an existing database (a city-office account is added)
    python -m tools.console_screens --only province # only these pages (file stems), the others left as they are

Builds the demo city (`evaluator centre demo`), reports its records once to the reference receiver of the
province's platform (`province receiver`, `province push --once`: what the Province page shows), adds a
city-office account, starts a real centre on
127.0.0.1 and drives Debian's Chromium through Playwright: each page of the navigation at 1366×768 (the
office PC) in Chinese and English, and the overview on a 390-pixel phone.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ACCOUNT, PASSWORD = "screens-office", "screenshots-only-password"
MAX_HEIGHT_PX = 2400     # a long list's page is shown to here: the picture is of the page, not of every row
# (file stem, path): the navigation's pages, one level of the drill-down, and the demo city's first case
PAGES = (("overview", "/"), ("drill", "/drill"), ("rankings", "/rankings"), ("round", "/round"),
         ("fleet", "/fleet"), ("integrity", "/integrity"), ("users", "/users"), ("audit", "/audit"),
         ("cases", "/cases"), ("case", "/cases/1"), ("alerts", "/alerts"), ("province", "/province"))


def _centre(*args: str, stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "centre.cli", *args], cwd=REPO, input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _login(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=name]", ACCOUNT)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def _settle(page: Page) -> None:
    """Wait until htmx fragments and charts are in, so the picture shows the page as a user sees it."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('canvas'))")


def report_to_the_province(db_url: str, folder: Path) -> None:
    """One push of the city's records to a reference receiver on 127.0.0.1 (the shipped mapping, HMAC)."""
    secret = folder / "province.secret"
    secret.write_text("the screenshots' secret shared with the province\n")
    receiver = subprocess.Popen([sys.executable, "-m", "centre.cli", "province", "receiver", "--port", "0",
                                 "--db", str(folder / "received.db"), "--key-file", str(secret)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert receiver.stdout is not None
        line = receiver.stdout.readline()          # "receiver listening on http://127.0.0.1:PORT (…)"
        if not line.startswith("receiver listening on "):
            raise SystemExit(f"the province's receiver did not start: {line!r}")
        endpoint = line.split()[3] + "/api/haochaping/upload"
        subprocess.run([sys.executable, "-m", "centre.cli", "province", "push", "--once", "--endpoint", endpoint,
                        "--key-file", str(secret), "--db", db_url], cwd=REPO, stdout=subprocess.DEVNULL)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


def shoot(db_url: str, only: set[str] | None = None) -> list[Path]:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db_url, "--port", str(port)],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    written: list[Path] = []
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for lang in ("zh", "en"):
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                page = context.new_page()
                _login(page, base)
                for stem, path in PAGES:
                    if only is not None and stem not in only:
                        continue
                    response = page.goto(f"{base}/console{path}?lang={lang}")
                    if response is None or response.status != 200:
                        print(f"skipped {path}: {response.status if response else 'no answer'}", file=sys.stderr)
                        continue
                    _settle(page)
                    target = OUT / f"{stem}-{lang}.png"
                    height = min(int(page.evaluate("document.documentElement.scrollHeight")), MAX_HEIGHT_PX)
                    page.screenshot(path=str(target), full_page=True,
                                    clip={"x": 0, "y": 0, "width": 1366, "height": height})
                    written.append(target)
                context.close()
                if only is not None and "overview-phone" not in only:
                    continue
                phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
                page = phone.new_page()
                _login(page, base)
                page.goto(f"{base}/console/?lang={lang}")
                _settle(page)
                target = OUT / f"overview-phone-{lang}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
                phone.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing centre database (default: a new demo city)")
    parser.add_argument("--only", nargs="+", metavar="STEM",
                        help="only these pictures (e.g. province, overview-phone); default: all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-screens-") as folder:
        db_url = args.db or f"sqlite:///{Path(folder) / 'demo.db'}"
        if not args.db:
            print("building the demo city…", file=sys.stderr)
            _centre("demo", "--units", "12", "--counters-per-unit", "2", "--days", "90", "--db", db_url)
            report_to_the_province(db_url, Path(folder))
        try:
            _centre("user", "add", "--name", ACCOUNT, "--role", "city", "--db", db_url, stdin=PASSWORD + "\n")
        except subprocess.CalledProcessError:
            _centre("user", "password", "--name", ACCOUNT, "--db", db_url, stdin=PASSWORD + "\n")
        for path in shoot(db_url, set(args.only) if args.only else None):
            print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
