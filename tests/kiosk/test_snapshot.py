"""`evaluator snapshot` as docs and technicians use it: a real process rendering offscreen."""
from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from kiosk.screens.demo import BAD_THANKS, RECEIPT_THANKS, SNAPSHOTS
from kiosk.screens.presenter import ScreenName
from kiosk.ui.fonts import SYSTEM_CJK_FONTS, FontError, find_font, missing_glyphs

KIVY_ROBOTO = Path(__import__("kivy").__file__).parent / "data" / "fonts" / "Roboto-Regular.ttf"


def snapshot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evaluator.cli", "snapshot", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def png_rows(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and raw scanlines of an 8-bit RGBA/RGB PNG (enough to check it is a picture)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and colour in (2, 6)
    chunks, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            chunks += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(chunks)
    stride = 1 + width * (4 if colour == 6 else 3)
    return width, height, [raw[i * stride:(i + 1) * stride] for i in range(height)]


def test_list_names_every_screen(tmp_path):
    done = snapshot("--list", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.split() == [screen.value for screen in ScreenName] + [BAD_THANKS, RECEIPT_THANKS]


@pytest.mark.parametrize("screen", SNAPSHOTS)
def test_every_screen_renders_to_a_png(tmp_path, screen):
    out = tmp_path / f"{screen}.png"
    done = snapshot(screen, "--out", str(out), "--size", "800x480", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    width, height, rows = png_rows(out)
    assert (width, height) == (800, 480)
    assert len(set(rows)) > 50                     # a drawn screen, not a blank one
    assert not (tmp_path / "var").exists()         # demo data only: no store is created


# One screen per further size, so the test stays a few seconds: the layouts themselves are checked at every
# size from widget geometry (tests/kiosk/ui/test_layouts.py); this checks the command draws at that size.
@pytest.mark.parametrize(("screen", "size"), [("callback", (1280, 800)), (BAD_THANKS, (1080, 1920))],
                         ids=["1280x800", "1080x1920"])
def test_snapshots_come_at_the_size_asked_for(tmp_path, screen, size):
    out = tmp_path / f"{screen}.png"
    done = snapshot(screen, "--out", str(out), "--size", f"{size[0]}x{size[1]}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    width, height, rows = png_rows(out)
    assert (width, height) == size
    assert len(set(rows)) > 50


def test_languages_render_differently(tmp_path):
    for lang in ("zh", "en"):
        assert snapshot("thanks", "--lang", lang, "--out", str(tmp_path / f"{lang}.png"), cwd=tmp_path).returncode == 0
    assert (tmp_path / "zh.png").read_bytes() != (tmp_path / "en.png").read_bytes()


def test_a_font_without_chinese_is_refused_instead_of_drawing_boxes(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"ui: {{font: {KIVY_ROBOTO}}}\n", encoding="utf-8")
    done = snapshot("rating", "--out", str(tmp_path / "x.png"), "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot draw" in done.stderr and "fonts-wqy-microhei" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_font_search():
    found = find_font(None, "非常满意")
    assert not missing_glyphs(found, "非常满意不满意基本")
    assert missing_glyphs(KIVY_ROBOTO, "满意A") == {"满", "意"}
    with pytest.raises(FontError, match="no font with Chinese glyphs found"):
        find_font(None, "满意", candidates=[KIVY_ROBOTO, Path("/nonexistent.ttf")])
    with pytest.raises(FontError, match="does not exist"):
        find_font(Path("/nonexistent.ttc"), "满意")


@pytest.mark.parametrize("path", [KIVY_ROBOTO, *(p for p in SYSTEM_CJK_FONTS if p.is_file())], ids=lambda p: p.name)
def test_glyph_check_reads_the_cmap_as_fonttools_does(path):
    # missing_glyphs parses the cmap table itself (fast); fontTools' full decompile is the reference.
    import random

    from fontTools.ttLib import TTCollection, TTFont

    font = TTCollection(str(path), lazy=True).fonts[0] if path.suffix == ".ttc" else TTFont(str(path), lazy=True)
    cmap = font.getBestCmap()
    rng = random.Random(path.name)
    sample = [rng.randrange(0x20, 0x30000) for _ in range(5000)] + list(range(0x20, 0x250)) + \
        list(range(0x4E00, 0x5200)) + [0xFFFD, 0xFFFF, 0x10000, 0x2F800]
    text = "".join(chr(cp) for cp in sample if not 0xD800 <= cp < 0xE000)
    assert missing_glyphs(path, text) == {ch for ch in text if not ch.isspace() and ord(ch) not in cmap}


def test_a_file_that_is_not_a_font_is_named(tmp_path):
    bogus = tmp_path / "font.ttf"
    bogus.write_bytes(b"\0\1\0\0" + b"garbage" * 10)
    with pytest.raises(FontError, match=r"font\.ttf: not a readable font file"):
        missing_glyphs(bogus, "满意")
