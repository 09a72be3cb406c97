"""The cyclic garbage collector paused around a read that builds many small objects at once.

Such a read (an integrity group's millions of tuples, the integrity report's thousands of devices) makes no
reference cycle: reference counting frees its objects. Meanwhile every few hundred allocations start a
collection, and now and then one walks the whole heap (in a large process, tens of milliseconds each): they
found nothing to free and took half of such a read's time. Process-wide, like the collector itself: another
thread's cycles wait for the next collection after the read.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The collector off for the block, on again after it if it was on before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
