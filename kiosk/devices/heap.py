"""Memory between citizens: the garbage collected, the C heap's free pages handed back to the system.

Python's cyclic garbage collector: each citizen's screens leave a few thousand objects in reference
cycles (Kivy widgets and their bindings), a megabyte or two, freed only by a collection of the oldest
generation. Such a full collection walks every object alive (210 ms over the whole Kivy tree, on a
busy development machine), and Python starts one whenever its counters say so: in the middle of a
press too. So once the terminal is built, everything alive is frozen out of the collector's sight
(`freeze_startup`), and each later full collection walks only what came after it (40 ms median on
that machine). Then one runs between citizens.

glibc keeps the memory a program frees inside its heap, for reuse, and by itself returns only
what is free at the very top. A terminal that draws one screen after another frees a lot in
the middle (label textures, GL state, Python objects over 512 bytes): in the soak, glibc's own
count (mallinfo2) showed about 20 MB of the heap free yet resident after 250 ratings, and that
free space rose and fell by megabytes from one checkpoint to the next. malloc_trim(0) also
releases the whole free pages inside the heap (madvise), so what stays resident is what the
terminal holds. It takes a few milliseconds on that heap, so it runs once a citizen is done,
not while one waits for the screen.
"""
from __future__ import annotations

import ctypes
import gc
from typing import Any, NamedTuple


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


class HeapUsage(NamedTuple):
    in_use_mb: float        # handed out by malloc and not freed (its mmap'd chunks included)
    free_mb: float          # freed but kept inside the heap; resident where it was touched and not trimmed


def _libc_function(name: str, argtypes: list[Any], restype: Any) -> Any:
    try:
        function = getattr(ctypes.CDLL(None), name)    # the C library this process already runs on
    except (OSError, AttributeError):                  # not glibc (musl, macOS): its allocator behaves otherwise
        return None
    function.argtypes, function.restype = argtypes, restype
    return function


_TRIM = _libc_function("malloc_trim", [ctypes.c_size_t], ctypes.c_int)
_MALLINFO2 = _libc_function("mallinfo2", [], _MallInfo2)        # glibc 2.33 and later


def freeze_startup() -> None:
    """Once the terminal's screens are built: what is alive now stays (screens, fonts, GL state), so no
    full collection need walk it again. Its garbage is collected first, not frozen with it."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """When the terminal stops: what was frozen may be collected again (tests build many in one process)."""
    gc.unfreeze()


def settle() -> None:
    """Once a citizen is done: their garbage collected (only where start-up is frozen: elsewhere a full
    collection is Python's own business, and slow), then the free pages of the heap returned."""
    if gc.get_freeze_count():
        gc.collect()
    trim_heap()


def trim_heap() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot (nothing done)."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


def usage() -> HeapUsage | None:
    """glibc's own count of the heap (all arenas), for the soak bench; None without mallinfo2."""
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return HeapUsage((info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20)
