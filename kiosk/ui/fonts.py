"""Finding a font that can draw the Chinese labels.

Kivy's bundled Roboto has no CJK glyphs and would draw every label as boxes,
so the terminal refuses to start without a font that covers the text it is
configured to show, and says which font and which characters are missing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

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
    try:
        if path.suffix.lower() == ".ttc":
            fonts = TTCollection(str(path), lazy=True).fonts[:1]
        else:
            fonts = [TTFont(str(path), lazy=True)]
        cmap = fonts[0].getBestCmap() or {}
    except (OSError, TTLibError, IndexError, AssertionError) as exc:
        raise FontError(f"{path}: not a readable font file ({exc})") from None
    return {ch for ch in text if not ch.isspace() and ord(ch) >= 0x20 and ord(ch) not in cmap}


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
