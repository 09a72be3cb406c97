"""The staff card: the signed-in member's photo from the roster, or a neutral silhouette."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

from kiosk.service import RatingService
from kiosk.store import Identity, RatingStore
from tests.kiosk.ui.conftest import pump


def write_png(path: Path, width: int, height: int) -> Path:
    """A real PNG (grey, 8-bit), written with zlib alone so the test needs no imaging library."""
    raw = b"".join(b"\x00" + bytes([128]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def test_the_card_shows_the_signed_in_members_photo_or_the_silhouette(window, make_settings, tmp_path):
    from kiosk.ui.app import KivyScheduler, RatingUi

    photo = write_png(tmp_path / "e1023.png", 30, 40)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    settings = make_settings(staff=[{"id": "E1023", "name": "李明", "photo": str(photo)},
                                    {"id": "E2000", "name": "王芳"},
                                    {"id": "E3000", "name": "张伟", "photo": str(tmp_path / "broken.png")}])
    store = RatingStore(settings.store.path, Identity("d", "u", "c"))
    service = RatingService(settings, store, KivyScheduler())
    ui = RatingUi(settings, service)
    window.add_widget(ui.manager)
    try:
        service.start()
        card = next(w for w in ui.manager.get_screen("rating").walk() if type(w).__name__ == "StaffPhoto")
        pump(3)
        assert card.texture is None                              # nobody signed in: the silhouette
        service.sign_in("E1023")                                 # as `I E1023` from the counter PC does
        pump(3)
        assert card.source == str(photo) and tuple(card.texture.size) == (30, 40)
        service.sign_in("E2000")                                 # no photo in the roster
        pump(3)
        assert card.source == "" and card.texture is None
        service.sign_in("E3000")                                 # an unreadable file: still the silhouette
        pump(3)
        assert card.texture is None
        assert ui.manager.current == "rating"
    finally:
        window.remove_widget(ui.manager)
        service.stop()
        store.close()
