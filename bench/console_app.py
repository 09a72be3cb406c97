"""The centre as `evaluator centre serve` runs it with its defaults (one worker, this process), plus what
bench/console_pages.py needs and the product must not carry:

- a bare Jinja page, `/bench/bare`: the baseline, served by the same process through the same middleware,
  rendered by the console's own Jinja environment, on the thread pool as every console page is (a sync
  route), but with no session and no database: the floor a console page stands on;
- each answer's time in the server, from the request's arrival in the outermost middleware to the start of
  the answer (a page's body is rendered before it starts), and the CPU time this process spent meanwhile (all
  its threads: the bench asks one page at a time, so it is that page's, and on SQLite the database's work
  too): a `Server-Timing: app;dur=…, cpu;dur=…` header (the CPU time is what a busy machine changes least);
- optionally a pinned "today" for the console (--today): a cached city year is of 2025, and the pages'
  default periods (today, this week, month, quarter, the current round) would otherwise hold nothing.

Run by the bench: python -m bench.console_app --db URL --port N [--today YYYY-MM-DD]
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, DictLoader

from centre.api.app import create_app
from centre.console import web
from centre.logs import uvicorn_log_config
from centre.serving import freeze_start_up

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

BARE_PATH = "/bench/bare"
BARE_NAME = "bench_bare.html"
BARE_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1><ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul></body></html>
"""
TIMING_HEADER = b"server-timing"


class ServerTiming:
    """The outermost middleware: how long the app took to start its answer, in a Server-Timing header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, cpu = time.perf_counter(), time.process_time()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (f"app;dur={(time.perf_counter() - started) * 1000:.3f}, "
                        f"cpu;dur={(time.process_time() - cpu) * 1000:.3f}").encode()
                message = {**message, "headers": [*message.get("headers", []), (TIMING_HEADER, took)]}
            await send(message)

        await self.app(scope, receive, timed)


def pin_today(day: date) -> None:
    """Every console module's `city_today` (imported by name into each page module) answers `day`. Only the
    pages' calendar moves: sessions and the audit log keep the real clock (web.now)."""
    original = web.city_today
    for name, module in list(sys.modules.items()):
        if name.startswith("centre.console") and getattr(module, "city_today", None) is original:
            module.__dict__["city_today"] = lambda: day


def build(db_url: str, today: date | None) -> FastAPI:
    app = create_app(db_url)   # what serving.serve builds for one worker: the default limits, metrics, admission
    # The console's environment (its filters, autoescape, caches) with one more template in front of its loader.
    console_loader = web.templates.env.loader
    assert console_loader is not None
    bare = Jinja2Templates(env=web.templates.env.overlay(
        loader=ChoiceLoader([DictLoader({BARE_NAME: BARE_TEMPLATE}), console_loader])))

    @app.get(BARE_PATH, response_class=HTMLResponse, include_in_schema=False)
    def bare_page(request: Request) -> HTMLResponse:
        return bare.TemplateResponse(request, BARE_NAME, {"title": "满意度评价器 · bench",
                                                          "items": [f"第 {i} 项" for i in range(1, 11)]})

    app.add_middleware(ServerTiming)   # added last: outermost, so it sees the whole of every answer
    if today is not None:
        pin_today(today)
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--today", type=date.fromisoformat, help="the console's today (default: the real one)")
    parser.add_argument("--log-level", default="info", help="as `evaluator centre serve` (default %(default)s)")
    args = parser.parse_args()
    app = build(args.db, args.today)
    freeze_start_up()   # as serving.serve does once the app is built
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                log_config=uvicorn_log_config("text", args.log_level))


if __name__ == "__main__":
    main()
