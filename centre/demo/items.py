"""The service items (事项) the demo city's counters handle: a few per sector, each with a made-up catalogue code
(事项编码) that the counter PC sends with the case number (`C <case_no> <staff_id> <item_code>`).

The codes look like a province catalogue's implementation codes without being any real one: the made-up city's
region code (province 33, city 99, as centre/demo/city.py's region codes), the kind of power as its pinyin
initials (行政许可 XK, 行政确认 QR, 行政给付 JF, 公共服务 GG), the sector's catalogue number, the item and its
sub-item, and a 4-digit implementation version: 21 characters of digits and capitals, which the wire's
ITEM_CODE_PATTERN takes. Which item a case is comes from its case number (a checksum), not from the city's
random stream, so the same seed gives the same items and every other draw of the city stays as it was.
"""
from __future__ import annotations

import zlib
from functools import cache

REGION = "339900"
POWERS = ("XK", "QR", "JF", "GG")
ITEMS_PER_SECTOR = 3


@cache
def catalogue(sector: str) -> tuple[str, ...]:
    """The item codes of `sector` (a sector code): ITEMS_PER_SECTOR of them, the same for every city."""
    number = zlib.crc32(sector.encode()) % 1000      # distinct for the 21 shipped sectors
    return tuple(f"{REGION}{POWERS[(number + item) % len(POWERS)]}{number:03d}{item:03d}{1 + number % 3:03d}0001"
                 for item in range(1, ITEMS_PER_SECTOR + 1))


def item_code(sector: str, case_no: str | None) -> str | None:
    """The item of the case `case_no` at a counter of `sector`; None without a case number (no counter PC,
    so nothing names the item)."""
    if case_no is None:
        return None
    items = catalogue(sector)
    return items[zlib.crc32(case_no.encode()) % len(items)]
