"""A QR code drawn from `qrcode`'s module matrix into a Kivy texture, without Pillow.

One texel per module, magnified with nearest-neighbour filtering, keeps the
modules crisp at any widget size and costs a few hundred bytes of texture
instead of a screen-sized image.
"""
from __future__ import annotations

import logging
from typing import Any

import qrcode
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import StringProperty
from kivy.uix.widget import Widget
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

log = logging.getLogger(__name__)

_DARK, _LIGHT = 0, 255  # luminance of a dark and a light module: black on white


def qr_matrix(payload: str, border: int = 4) -> list[list[bool]]:
    """The QR modules for `payload` (UTF-8), `True` = dark, rows top to bottom, quiet zone included.

    Medium error correction survives a scuffed or glare-struck screen without
    growing the code much. Raises `qrcode.exceptions.DataOverflowError` when
    the payload does not fit the largest QR version.
    """
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    # Bytes, not str: the encoding is stated here rather than left to qrcode's default.
    code.add_data(payload.encode("utf-8"))
    try:
        code.make(fit=True)
    except ValueError as exc:
        # qrcode's best_fit rejects "version 41" before raising its own overflow error
        # (lincolnloop/python-qrcode#322), so an oversized payload arrives as a bare ValueError.
        raise DataOverflowError(f"{len(payload)} characters do not fit a QR code") from exc
    return [list(row) for row in code.get_matrix()]


def luminance_rows_bottom_up(matrix: list[list[bool]]) -> bytes:
    """The matrix as one luminance byte per module, in the row order a Kivy texture expects.

    Kivy's texture row 0 is the bottom row as drawn, so the matrix's last row
    goes first; otherwise the finder patterns would land at the bottom corners
    and scanners would read a mirror image.
    """
    return b"".join(bytes(_DARK if dark else _LIGHT for dark in row) for row in reversed(matrix))


class QrCode(Widget):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """`payload` as a square QR code, centred, as large as the widget's shorter side."""

    payload = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        self.matrix: list[list[bool]] = []
        self.texture: Texture | None = None
        self._built_for: str | None = None
        super().__init__(**kwargs)
        with self.canvas:
            # White, so a Color set earlier in the parent's canvas does not tint the code.
            Color(1, 1, 1, 1)
            self._rect = Rectangle(size=(0, 0))
        self._redraw = Clock.create_trigger(self._draw)  # coalesce pos/size/payload changes
        self.bind(pos=self._redraw, size=self._redraw, payload=self._redraw)
        self._redraw()

    def _draw(self, *_args: object) -> None:
        if self.payload != self._built_for:
            self._rebuild()
        side = min(self.width, self.height) if self.texture is not None else 0
        self._rect.texture = self.texture
        self._rect.size = (side, side)
        self._rect.pos = (self.center_x - side / 2, self.center_y - side / 2)

    def _rebuild(self) -> None:
        self._built_for = self.payload
        try:
            self.matrix = qr_matrix(self.payload) if self.payload else []
        except DataOverflowError:
            # A crash on the Clock would take the whole terminal down; an absent code only hides a link.
            log.error("QR payload of %d characters does not fit a QR code; not drawn", len(self.payload))
            self.matrix = []
        if not self.matrix:
            self.texture = None  # drops the GL texture: nothing left holds it
            return
        n = len(self.matrix)
        if self.texture is None or self.texture.size != (n, n):
            # A new size needs a new texture; the old one is released with its last reference.
            # Same-size payloads re-blit the texture in place, so redraws over years allocate nothing.
            self.texture = Texture.create(size=(n, n), colorfmt="luminance")
            self.texture.mag_filter = "nearest"  # hard module edges at any scale, not a blur
        self.texture.blit_buffer(luminance_rows_bottom_up(self.matrix), colorfmt="luminance", bufferfmt="ubyte")
        self.canvas.ask_update()  # a re-blit alone does not mark the window for redrawing
