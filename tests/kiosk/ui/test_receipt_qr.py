"""The receipt QR code (回执) on the thanks screen, read back from the window as drawn and decoded by zbar: what a
phone would read. And the `thanks_receipt` snapshot, decoded from its PNG."""
from __future__ import annotations

import pytest

from contract import verify_complaint_url, verify_receipt_url
from evaluator.terminal import complaint_link, receipt_link
from kiosk.screens.demo import DEMO_RECEIPT, RECEIPT_THANKS
from sync.client import Credentials
from tests.kiosk.test_snapshot import png_rows, snapshot
from tests.kiosk.ui.conftest import pump, pump_until, read_qr_codes, store_for, tap
from tests.kiosk.ui.test_citizen_qr import bad_review
from tests.kiosk.ui.test_rating_flow import level_button
from tests.testdeps import qr_decoder

CENTRE = "http://127.0.0.1:8080"
SECRETS = {"dev-0042": "s3cret"}.get


@pytest.fixture
def terminal(mounted, make_settings, tmp_path):
    def build(**citizen):
        settings = make_settings(sync={"state_dir": str(tmp_path / "state")},
                                 citizen={"complaint_url": f"{CENTRE}/c", "receipt_url": f"{CENTRE}/r", **citizen},
                                 timings={"thanks_s": 5.0, "cooldown_s": 0.5})
        Credentials(CENTRE, "dev-0042", "s3cret").save(settings.sync.state_dir)
        store = store_for(settings, "dev-0042")
        app = mounted.mount(settings, store, complaint_link=complaint_link(settings),
                            receipt_link=receipt_link(settings))
        return app, store

    return build


def test_a_bad_review_shows_one_code_the_receipt_signed_for_that_rating(terminal):
    app, store = terminal()
    bad_review(app)
    thanks = app.ui.manager.get_screen("thanks")
    [scanned] = read_qr_codes(thanks)                 # one code on the screen: a phone never picks the wrong one
    rating = store.recent_ratings(1)[0]
    assert scanned == thanks.model.qr_payload and scanned.startswith(f"{CENTRE}/r?")
    assert verify_receipt_url(scanned, SECRETS) == rating["uuid"]
    assert verify_complaint_url(scanned, SECRETS) is None        # a receipt link, never a complaint link
    assert "回执" in thanks.model.qr_caption and "投诉" in thanks.model.qr_caption


def test_after_every_rating_when_configured(terminal):
    app, store = terminal(receipt_after="every")
    manager = app.ui.manager
    tap(level_button(manager, 5))
    pump_until(lambda: manager.current == "thanks")
    pump(3)
    [scanned] = read_qr_codes(manager.get_screen("thanks"))
    assert verify_receipt_url(scanned, SECRETS) == store.recent_ratings(1)[0]["uuid"]


def test_never_leaves_the_complaint_code(terminal):
    app, store = terminal(receipt_after="never")
    bad_review(app)
    [scanned] = read_qr_codes(app.ui.manager.get_screen("thanks"))
    assert verify_complaint_url(scanned, SECRETS) == store.recent_ratings(1)[0]["uuid"]


def png_green(path) -> tuple[bytes, int, int]:
    """The green channel of an 8-bit RGB(A) PNG, its scanlines unfiltered (PNG filters 0–4): the codes are black
    on white, so green alone is their luminance."""
    width, height, rows = png_rows(path)
    step = (len(rows[0]) - 1) // width
    previous, lines = bytearray(width * step), []
    for row in rows:
        kind, line = row[0], bytearray(row[1:])
        for i in range(len(line)):
            left, up = line[i - step] if i >= step else 0, previous[i]
            corner = previous[i - step] if i >= step else 0
            guess = left + up - corner
            paeth = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))[2]
            line[i] = (line[i] + (0, left, up, (left + up) // 2, paeth)[kind]) & 0xFF
        lines.append(bytes(line[1::step]))
        previous = line
    return b"".join(lines), width, height


def magnified(pixels: bytes, width: int, height: int, by: int) -> tuple[bytes, int, int]:
    rows = [b"".join(bytes([value]) * by for value in pixels[y * width:(y + 1) * width]) for y in range(height)]
    return b"".join(row for row in rows for _ in range(by)), width * by, height * by


def test_the_receipt_snapshot_draws_a_code_a_phone_reads(tmp_path):
    out = tmp_path / "receipt.png"
    done = snapshot(RECEIPT_THANKS, "--out", str(out), "--size", "800x480", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pixels = png_green(out)
    found: list[str] = []
    for by in (1, 2, 3):      # as read_qr_codes does: pixels repeated, never blended, until zbar reads it
        found = [symbol.data.decode() for symbol in qr_decoder()(magnified(*pixels, by)) if symbol.type == "QRCODE"]
        if found:
            break
    [scanned] = found
    assert scanned.startswith(f"{DEMO_RECEIPT}?r=")
