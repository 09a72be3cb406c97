"""The C heap's free pages go back to the system when the terminal trims it (kiosk.devices.heap)."""
from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from kiosk.devices.heap import freeze_startup, release, settle, trim_heap, usage

BLOCK = 4096                  # served from malloc's heap (its mmap'd chunks start at 128 KiB)
BLOCKS = 16_384               # 64 MiB


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_trimming_returns_the_free_pages_inside_the_heap():
    # In a process that has run for a while the heap has free space of its own, resident or not: trimmed
    # first, none of it is, so the blocks below take fresh pages.
    trim_heap()
    start = rss_mib()
    blocks = [bytes(BLOCK) for _ in range(BLOCKS)]          # zero-filled: every page touched
    pin = bytes(BLOCK)                                       # above them all: the heap's top stays in use
    grown = rss_mib() - start
    del blocks
    freed_only = rss_mib() - start
    assert trim_heap()
    trimmed = rss_mib() - start
    assert grown > 48, f"the scenario did not grow the heap: +{grown:.1f} MiB"
    # Freeing alone gives nothing back: the free space sits below the pinned top.
    assert freed_only > grown - 8, f"glibc gave back memory by itself: +{grown:.1f} → +{freed_only:.1f} MiB"
    assert freed_only - trimmed > 0.75 * grown, f"trimming gave back too little: +{freed_only:.1f} → +{trimmed:.1f} MiB"
    del pin


def test_usage_counts_what_is_handed_out_and_what_is_free():
    before = usage()
    if before is None:
        pytest.skip("this C library has no mallinfo2")
    blocks = [bytes(BLOCK) for _ in range(BLOCKS // 4)]     # 16 MiB
    held = usage()
    pin = bytes(BLOCK)
    del blocks
    freed = usage()
    assert held.in_use_mb - before.in_use_mb > 15
    assert held.in_use_mb - freed.in_use_mb > 15 and freed.free_mb - held.free_mb > 15
    del pin


class Node:
    """An object in a reference cycle: freed only by the cyclic collector."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def no_automatic_collection():
    gc.disable()                 # only the code under test collects
    try:
        yield
    finally:
        gc.enable()


def test_once_start_up_is_frozen_settling_collects_what_a_citizen_left(no_automatic_collection):
    built = Node()                              # alive at start-up: frozen, never walked again
    freeze_startup()
    try:
        assert gc.get_freeze_count() > 0
        left = Node()
        gone = weakref.ref(left)
        del left
        assert gone() is not None               # unreachable, still held: only a collection frees it
        settle()
        assert gone() is None
        assert built.me is built
    finally:
        release()
    assert gc.get_freeze_count() == 0


def test_without_a_frozen_start_up_settling_leaves_collection_to_python(no_automatic_collection):
    left = Node()
    gone = weakref.ref(left)
    del left
    settle()                                    # a full walk of every object would take a frame or more
    assert gone() is not None
    gc.collect()
    assert gone() is None
