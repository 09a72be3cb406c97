"""The citizen's screens. Each copies a `ScreenModel` onto its widgets; the
controller (the App) turns touches into service calls."""
from __future__ import annotations

from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen

from kiosk.presenter import ScreenModel
from kiosk.ui.widgets import LevelButton, ReasonToggle, dim


class ModelScreen(Screen):
    model: ScreenModel | None = ObjectProperty(None, allownone=True)
    controller = ObjectProperty(None, allownone=True)


class RatingScreen(ModelScreen):
    def on_model(self, _screen, model: ScreenModel | None) -> None:
        if model is None:
            return
        row = self.ids.levels
        # Rebuild only when the levels themselves change (locale, config):
        # a new set of labels per view would leak textures on a years-long run.
        if getattr(row, "shown_levels", None) != model.levels:
            row.clear_widgets()
            for level in model.levels:
                button = LevelButton(level=level.level, text=level.label, background=level.rgba)
                button.bind(on_release=self._pressed)
                row.add_widget(button)
            row.shown_levels = model.levels
        for button, level in zip(reversed(row.children), model.levels):
            button.accepting = model.accepting
            button.background = level.rgba if model.accepting else dim(level.rgba)

    def _pressed(self, button: LevelButton) -> None:
        self.controller.press(int(button.level))


class WaitingScreen(ModelScreen):
    pass


class ReasonsScreen(ModelScreen):
    def on_model(self, _screen, model: ScreenModel | None) -> None:
        if model is None:
            return
        grid = self.ids.reasons
        codes = tuple((reason.code, reason.label) for reason in model.reasons)
        if getattr(grid, "shown_reasons", None) != codes:
            grid.clear_widgets()
            for code, label in codes:
                grid.add_widget(ReasonToggle(code=code, text=label, controller=self.controller))
            grid.shown_reasons = codes
        for toggle, reason in zip(reversed(grid.children), model.reasons):
            toggle.state = "down" if reason.selected else "normal"


class ThanksScreen(ModelScreen):
    pass


class OutOfServiceScreen(ModelScreen):
    pass
