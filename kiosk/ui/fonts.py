"""Finding a font that can draw the Chinese labels.

Kivy's bundled Roboto has no CJK glyphs and would draw every label as boxes,
so the terminal refuses to start without a font that covers the text it is
configured to show, and says which font and which characters are missing.
"""
from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError

# Debian/Raspberry Pi OS packages, most compact first (fonts-wqy-microhei is 5 MB).
SYSTEM_CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)

INSTALL_HINT = "install one, e.g. `sudo apt-get install fonts-wqy-microhei`, or set ui.font in config.yaml"


class FontError(Exception):
    """No usable font; the message says what to do."""


def missing_glyphs(path: Path, text: str) -> set[str]:
    """Characters of `text` the font cannot draw (spaces and controls ignored)."""
    wanted = {ch for ch in text if not ch.isspace() and ord(ch) >= 0x20}
    try:
        if path.suffix.lower() == ".ttc":
            fonts = TTCollection(str(path), lazy=True).fonts[:1]
        else:
            fonts = [TTFont(str(path), lazy=True)]
        # The raw table, looked up for just these characters: decompiling a CJK font's whole cmap
        # (30,000 entries) with fontTools took a quarter of a second at every start.
        drawable = _cmap_lookup(fonts[0].reader["cmap"], {ord(ch) for ch in wanted})
    except (OSError, TTLibError, IndexError, KeyError, AssertionError, struct.error) as exc:
        raise FontError(f"{path}: not a readable font file ({exc!r})") from None
    return {ch for ch in wanted if ord(ch) not in drawable}


# (platform, encoding) of Unicode cmap subtables, full repertoire first (as fontTools' getBestCmap).
_UNICODE_SUBTABLES = ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))


def _cmap_lookup(data: bytes, codepoints: set[int]) -> set[int]:
    """Which of `codepoints` the font's best Unicode subtable (format 12 or 4) maps to a real glyph."""
    count = struct.unpack_from(">H", data, 2)[0]
    records: dict[tuple[int, int], int] = {}     # (platform, encoding) → subtable offset
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, 4 + 8 * index)
        records.setdefault((platform, encoding), offset)
    for key in _UNICODE_SUBTABLES:
        if key in records:
            offset = records[key]
            kind = struct.unpack_from(">H", data, offset)[0]
            if kind == 12:
                return _format12(data, offset, codepoints)
            if kind == 4:
                return _format4(data, offset, codepoints)
    raise FontError("no Unicode cmap subtable of format 4 or 12")


def _format12(data: bytes, offset: int, codepoints: set[int]) -> set[int]:
    groups = struct.unpack_from(">I", data, offset + 12)[0]
    table = [struct.unpack_from(">III", data, offset + 16 + 12 * i) for i in range(groups)]
    starts = [group[0] for group in table]
    found = set()
    for cp in codepoints:
        i = bisect.bisect_right(starts, cp) - 1
        if i >= 0 and cp <= table[i][1] and table[i][2] + cp - table[i][0] != 0:
            found.add(cp)
    return found


def _format4(data: bytes, offset: int, codepoints: set[int]) -> set[int]:
    segments = struct.unpack_from(">H", data, offset + 6)[0] // 2
    ends_at = offset + 14
    starts_at = ends_at + 2 * segments + 2
    deltas_at, ranges_at = starts_at + 2 * segments, starts_at + 4 * segments
    ends = struct.unpack_from(f">{segments}H", data, ends_at)
    found = set()
    for cp in codepoints:
        i = bisect.bisect_left(ends, cp)
        if cp > 0xFFFF or i == segments:
            continue
        start, delta, range_offset = (struct.unpack_from(">H", data, at + 2 * i)[0]
                                      for at in (starts_at, deltas_at, ranges_at))
        if cp < start:
            continue
        if range_offset == 0:
            glyph = (cp + delta) & 0xFFFF
        else:
            glyph = struct.unpack_from(">H", data, ranges_at + 2 * i + range_offset + 2 * (cp - start))[0]
            glyph = (glyph + delta) & 0xFFFF if glyph else 0
        if glyph:
            found.add(cp)
    return found


def find_font(configured: Path | None, needed_text: str,
              candidates: Iterable[Path] = SYSTEM_CJK_FONTS) -> Path:
    """The configured font if it covers `needed_text`, else the first system font that does."""
    if configured is not None:
        if not configured.is_file():
            raise FontError(f"ui.font: {configured} does not exist; {INSTALL_HINT}")
        missing = missing_glyphs(configured, needed_text)
        if missing:
            raise FontError(f"ui.font: {configured} cannot draw {''.join(sorted(missing))!r}; {INSTALL_HINT}")
        return configured
    for path in candidates:
        if path.is_file() and not missing_glyphs(path, needed_text):
            return path
    raise FontError(f"no font with Chinese glyphs found (looked in {', '.join(map(str, candidates))}); "
                    f"{INSTALL_HINT}")
