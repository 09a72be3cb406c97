"""Each level reads without colour: its own face, drawn in the same ink for all, and its words."""
from __future__ import annotations

import pytest

from kiosk.config import Locale
from kiosk.screens.demo import demo_settings, demo_view
from kiosk.screens.presenter import ScreenName
from tests.kiosk.ui.conftest import pump

SIDE = 200.0


def drawing(level: int) -> list[tuple]:
    """What a FaceIcon of `level` draws, instruction by instruction: type, colour or geometry."""
    from kivy.graphics import Color, Ellipse, Line

    from kiosk.ui.widgets import FaceIcon

    face = FaceIcon(level=level, size=(SIDE, SIDE), pos=(0, 0))
    face._draw()
    found = []
    for instruction in face.canvas.children:
        if isinstance(instruction, Color):
            found.append(("colour", tuple(instruction.rgba)))
        elif isinstance(instruction, Line):
            found.append(("line", tuple(round(v, 2) for v in instruction.points)))
        elif isinstance(instruction, Ellipse):
            found.append(("ellipse", tuple(instruction.pos), tuple(instruction.size)))
    return found


def mouth_curve(drawn: list[tuple]) -> float:
    """How far the mouth's corners sit above its middle, in pixels (negative: a frown)."""
    points = max((item[1] for item in drawn if item[0] == "line"), key=len)   # the mouth has the most points
    ys = points[1::2]
    return ys[0] - ys[len(ys) // 2]


def test_the_five_faces_differ_in_shape_not_in_colour(window):
    faces = {level: drawing(level) for level in range(1, 6)}
    inks = {tuple(item for item in drawn if item[0] == "colour") for drawn in faces.values()}
    assert len(inks) == 1                                  # one ink for all: colour tells nothing apart
    shapes = [tuple(item for item in drawn if item[0] != "colour") for drawn in faces.values()]
    assert len(set(shapes)) == 5                           # pairwise distinct drawings
    curves = [mouth_curve(faces[level]) for level in range(1, 6)]
    assert curves == sorted(curves) and curves[0] < 0 < curves[-1]   # frown to smile, in the levels' order
    # Steps big enough to see at a glance, not just to compute: at least 5 % of the face between neighbours.
    assert min(b - a for a, b in zip(curves, curves[1:])) >= 0.05 * SIDE


@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
def test_each_level_button_carries_its_face_and_its_words(window, make_settings, locale):
    from kiosk.ui.app import RatingUi
    from kiosk.ui.widgets import FaceIcon, FitLabel

    settings = demo_settings(make_settings())
    ui = RatingUi(settings, service=None, locale=locale)
    window.add_widget(ui.manager)
    try:
        ui.show(demo_view(ScreenName.RATING, settings))
        pump(4)
        buttons = list(ui.manager.get_screen("rating").ids.levels.children)
        assert sorted(button.level for button in buttons) == [1, 2, 3, 4, 5]
        words = set()
        for button in buttons:
            faces = [w for w in button.walk(restrict=True) if isinstance(w, FaceIcon)]
            labels = [w for w in button.walk(restrict=True) if isinstance(w, FitLabel) and w.text]
            assert [face.level for face in faces] == [button.level]
            assert faces[0].width > 0 and faces[0].height > 0 and len(faces[0].canvas.children) > 0
            assert [label.text for label in labels] == [settings.level(button.level).label(locale)]
            words.add(labels[0].text)
        assert len(words) == 5
    finally:
        window.remove_widget(ui.manager)
