"""Hand the C heap's free pages back to the system between citizens.

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
