"""A page's independent reads at once, each on a connection of its own. The console's overview, drill-down and
coverage each ask several sums of the rollups or scans of the devices, and on a city year each takes tens of
milliseconds of the database's time: asked one after the other, the page waits for their total; asked together,
for about the longest of them (PostgreSQL answers each in a process of its own; SQLite reads in parallel too,
outside Python's lock).

Each read sees the database as it is when it runs, as separate reads always did (a page's figures were never
read in one snapshot). A few threads serve every request: a read waits for one when all are busy, so a burst of
pages takes no more of the connection pool than a few more requests would.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Engine

READ_THREADS = 8
_threads = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="centre-reads")


def together(source: Engine | Connection, *reads: Callable[[Connection], Any]) -> list[Any]:
    """Each read's answer, in order: the first read in this thread, the others meanwhile in the read threads,
    each on a connection of the engine's; given a connection (a caller's transaction, a test's), one after the
    other on it."""
    if isinstance(source, Connection):
        return [read(source) for read in reads]

    def run(read: Callable[[Connection], Any]) -> Any:
        with source.connect() as conn:
            return read(conn)

    others = [_threads.submit(run, read) for read in reads[1:]]
    try:
        first = run(reads[0])
    finally:
        answers = [other.result() for other in others]    # never leave a read running past the request
    return [first, *answers]
