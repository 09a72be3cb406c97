"""The QR widget in a real offscreen Kivy window: its matrix, its texture read back, and the frame it draws.

"It scans" is shown by scanning: the widget as drawn in the window is read
back from the GPU and decoded by zbar (tests/kiosk/ui/conftest.read_qr_codes),
and the text must be the payload. Decoders also read mirrored codes, so the
module-by-module comparisons below pin the orientation.
"""
from __future__ import annotations

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from tests.kiosk.ui.conftest import pump, pump_until, read_qr_codes

URL = "https://eval.example.gov.cn/callback?unit=0712&counter=3&lang=zh-CN&t=2026-05-09T07%3A35Z"
CHINESE = "政务服务好差评：请扫码评价本次服务"
BORDER = 4


@pytest.fixture
def place(window):
    """Put a QR widget in the window at a known size; take it out afterwards."""
    placed = []

    def put(payload, size=(300, 200), pos=(20, 30)):
        from kiosk.ui.qr import QrCode

        qr = QrCode(payload=payload, size_hint=(None, None), size=size, pos=pos)
        window.add_widget(qr)
        placed.append(qr)
        pump_until(lambda: qr.matrix)
        pump()
        return qr

    yield put
    for qr in placed:
        window.remove_widget(qr)


def reference_matrix(payload: str) -> list[list[bool]]:
    """`qrcode`'s matrix built the way its docs show, independently of kiosk.ui.qr."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER)
    code.add_data(payload)
    code.make(fit=True)
    return code.get_matrix()


def is_finder(matrix, top: int, left: int) -> bool:
    """A 7×7 finder pattern: dark ring, light ring, dark 3×3 core."""
    for r in range(7):
        for c in range(7):
            ring = max(abs(r - 3), abs(c - 3))
            if matrix[top + r][left + c] != (ring != 2):
                return False
    return True


def rectangles(qr) -> list:
    from kivy.graphics import Rectangle

    return [i for i in qr.canvas.children if isinstance(i, Rectangle)]


def texture_bits(texture) -> list[list[bool]]:
    """The texture's texels as dark/light, top row first as drawn (`pixels` is RGBA, bottom row first)."""
    n = texture.width
    assert texture.size == (n, n)
    px = texture.pixels
    assert len(px) == n * n * 4
    return [[px[((n - 1 - r) * n + c) * 4] < 128 for c in range(n)] for r in range(n)]


def render(widget) -> tuple[bytes, int, int]:
    """Draw the widget's canvas into an offscreen framebuffer, with a red marker at its top-left corner.

    The marker is plain geometry, so it pins which way up the read-back rows
    are independently of any texture convention.
    """
    from kivy.graphics import ClearBuffers, ClearColor, Color, Fbo, Rectangle, Translate

    w, h = int(widget.width), int(widget.height)
    fbo = Fbo(size=(w, h))
    with fbo:
        ClearColor(0.5, 0.5, 0.5, 1)
        ClearBuffers()
        Translate(-widget.x, -widget.y, 0)
    fbo.add(widget.canvas)
    with fbo:
        Color(1, 0, 0, 1)
        Rectangle(pos=(widget.x, widget.top - 2), size=(2, 2))
    fbo.draw()
    px = fbo.pixels
    fbo.remove(widget.canvas)
    return px, w, h


def drawn_widget(payload: str, size=(300, 200), pos=(20, 30)):
    """A QR widget outside the window tree, so its canvas can be drawn into an Fbo on its own."""
    from kiosk.ui.qr import QrCode

    qr = QrCode(payload=payload, size_hint=(None, None), size=size, pos=pos)
    pump_until(lambda: qr.matrix)
    return qr


def rendered_bits(qr) -> list[list[bool]]:
    """Sample the rendered frame at each module's centre, top row first as seen on screen."""
    px, w, h = render(qr)

    def rgb(x: int, y_from_top: int) -> tuple[int, int, int]:
        i = ((h - 1 - y_from_top) * w + x) * 4  # GL read-back: row 0 is the bottom
        return px[i], px[i + 1], px[i + 2]

    assert rgb(0, 0) == (255, 0, 0), "marker not at the top-left: read-back orientation is not what this test assumes"
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    n = len(qr.matrix)
    module = side / n
    bits = []
    for r in range(n):
        row = []
        for c in range(n):
            red, green, blue = rgb(int(left + (c + 0.5) * module), int(top + (r + 0.5) * module))
            assert red == green == blue and red in (0, 255), f"module {r},{c} is neither black nor white"
            row.append(red == 0)
        bits.append(row)
    return bits


# (1) the matrix


@pytest.mark.parametrize("payload", [URL, CHINESE, "A"], ids=["url", "chinese", "short"])
def test_matrix_is_qrcodes_own_with_finder_patterns_at_three_corners(payload):
    from kiosk.ui.qr import qr_matrix

    matrix = qr_matrix(payload)
    assert matrix == reference_matrix(payload)
    n = len(matrix)
    assert all(len(row) == n for row in matrix) and (n - 2 * BORDER - 21) % 4 == 0  # a QR version's size
    far = n - BORDER - 7
    assert is_finder(matrix, BORDER, BORDER)                  # top-left
    assert is_finder(matrix, BORDER, far)                     # top-right
    assert is_finder(matrix, far, BORDER)                     # bottom-left
    assert not is_finder(matrix, far, far)                    # the one corner without: orientation is readable
    quiet = [matrix[i][j] for i in range(n) for j in range(n) if min(i, j, n - 1 - i, n - 1 - j) < BORDER]
    assert not any(quiet)


def test_border_is_a_parameter_and_the_payload_is_encoded_as_utf8():
    from kiosk.ui.qr import qr_matrix

    assert len(qr_matrix(CHINESE, border=0)) == len(qr_matrix(CHINESE)) - 2 * BORDER
    as_bytes = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER)
    as_bytes.add_data(CHINESE.encode("utf-8"))
    assert qr_matrix(CHINESE) == as_bytes.get_matrix()


def test_an_oversized_payload_raises_qrcodes_overflow_error_not_a_bare_value_error():
    from qrcode.exceptions import DataOverflowError

    from kiosk.ui.qr import qr_matrix

    with pytest.raises(DataOverflowError):
        qr_matrix("x" * 3000)                                # beyond version 40 at level M


def test_rows_go_to_the_texture_bottom_up():
    from kiosk.ui.qr import luminance_rows_bottom_up

    assert luminance_rows_bottom_up([[True, False], [False, False]]) == bytes([255, 255, 0, 255])


# (2) + (3) the texture, module for module, the right way up


@pytest.mark.parametrize("payload", [URL, CHINESE], ids=["url", "chinese"])
def test_texture_holds_one_texel_per_module_top_left_finder_at_top_left(place, payload):
    from kiosk.ui.qr import qr_matrix

    qr = place(payload)
    n = len(qr.matrix)
    assert qr.matrix == qr_matrix(payload)
    assert qr.texture.size == (n, n)
    assert qr.texture.mag_filter == "nearest"
    bits = texture_bits(qr.texture)
    assert bits == qr.matrix
    assert is_finder(bits, BORDER, BORDER) and not is_finder(bits, n - BORDER - 7, n - BORDER - 7)


def test_the_code_is_a_centred_square_on_the_shorter_side(place):
    qr = place(URL, size=(300, 200), pos=(20, 30))
    [rect] = rectangles(qr)
    assert rect.texture is qr.texture
    assert rect.size == (200, 200)
    assert rect.pos == (20 + 50, 30)
    qr.size = (180, 400)
    pump_until(lambda: rect.size == (180, 180))
    assert rect.pos == (20, 30 + 110)


# (4) a new payload


def test_a_new_payload_updates_matrix_and_texture_reusing_a_same_size_texture(place):
    from kiosk.ui.qr import qr_matrix

    qr = place("counter 3")
    first, texture = qr.matrix, qr.texture
    qr.payload = "counter 4"                                  # same length: same QR version
    pump_until(lambda: qr.matrix != first)
    pump()
    assert qr.matrix == qr_matrix("counter 4") and len(qr.matrix) == len(first)
    assert qr.texture is texture                              # re-blitted in place
    assert texture_bits(qr.texture) == qr.matrix

    qr.payload = URL                                          # a bigger version
    pump_until(lambda: qr.matrix == qr_matrix(URL))
    pump()
    assert qr.texture is not texture and qr.texture.size == (len(qr.matrix),) * 2
    assert texture_bits(qr.texture) == qr.matrix


def test_many_redraws_keep_one_texture_and_a_fixed_canvas(place):
    qr = place("ticket 000")
    instructions = len(qr.canvas.children)
    texture = qr.texture
    for k in range(60):                                       # a new ticket every few minutes, for years
        qr.payload = f"ticket {k:03d}"
        qr.width = 300 + k % 2
        pump(1)
    pump()
    assert qr.texture is texture
    assert len(qr.canvas.children) == instructions
    assert [rect.texture for rect in rectangles(qr)] == [texture]
    assert texture_bits(qr.texture) == qr.matrix


def test_an_empty_or_oversized_payload_draws_nothing_and_does_not_raise(place, caplog):
    qr = place("something")
    [rect] = rectangles(qr)
    assert rect.texture is qr.texture
    qr.payload = ""
    pump_until(lambda: qr.texture is None)
    assert qr.matrix == [] and rect.size == (0, 0)

    qr.payload = "x" * 3000                                   # beyond version 40 at level M
    pump()
    assert qr.matrix == [] and qr.texture is None and rect.size == (0, 0)
    assert "does not fit" in caplog.text

    qr.payload = "back"
    pump_until(lambda: qr.matrix)
    pump()
    assert texture_bits(qr.texture) == qr.matrix and rect.size == (200, 200)


# (5) what is on screen decodes to the payload, module for module the payload's encoding


@pytest.mark.parametrize("payload", [URL, CHINESE, "A"], ids=["url", "chinese", "short"])
@pytest.mark.parametrize("size", [(300, 200), (120, 90)], ids=["large", "small"])
def test_the_code_drawn_in_the_window_decodes_to_its_payload(place, payload, size):
    qr = place(payload, size=size)
    assert read_qr_codes(qr) == [payload]         # UTF-8 without an ECI header: zbar reads the Chinese too


@pytest.mark.parametrize("payload", [URL, CHINESE], ids=["url", "chinese"])
def test_the_drawn_frame_reads_back_as_the_payloads_encoding(window, payload):
    from kiosk.ui.qr import qr_matrix

    qr = drawn_widget(payload)
    assert rendered_bits(qr) == qr_matrix(payload) == reference_matrix(payload)


def test_the_drawn_frame_leaves_the_margins_bare(window):
    qr = drawn_widget(URL, size=(300, 200))
    px, w, h = render(qr)

    def grey(x: int, y: int) -> bool:
        i = (y * w + x) * 4
        return tuple(px[i:i + 3]) == (127, 127, 127) or tuple(px[i:i + 3]) == (128, 128, 128)

    mid = h // 2
    assert grey(10, mid) and grey(49, mid) and grey(250, mid) and grey(w - 1, mid)
    assert not grey(50, mid) and not grey(249, mid)
