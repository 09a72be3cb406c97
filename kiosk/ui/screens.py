"""The citizen's screens. Each copies a `ScreenModel` onto its widgets; the
controller (the App) turns touches into service calls."""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen

from kiosk.screens.callback_form import KEYS as CALLBACK_KEYS
from kiosk.screens.presenter import ScreenModel
from kiosk.screens.scores import ScoresModel
from kiosk.screens.sign_in import SignInModel
from kiosk.screens.technician import ProvisionForm, TechnicianModel
from kiosk.ui.charts import LevelBars, RateGauge, TrendChart  # noqa: F401  (registered for scores.kv)
from kiosk.ui.widgets import LevelButton, ReasonToggle, dim


class ModelScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    model: ScreenModel | None = ObjectProperty(None, allownone=True)
    controller = ObjectProperty(None, allownone=True)


class RatingScreen(ModelScreen):
    def on_kv_post(self, _base: Any) -> None:
        self._even_trigger = Clock.create_trigger(self._even_labels, -1)

    def _even_labels(self, *_args: object) -> None:
        """One font size for the five level names: the largest at which the longest fits."""
        labels = [button.ids.label for button in self.ids.levels.children]
        size = min((label.fitted_font_size for label in labels), default=float("inf"))
        for label in labels:
            label.cap = size

    def on_model(self, _screen: Any, model: ScreenModel | None) -> None:
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
                button.ids.label.bind(fitted_font_size=self._even_trigger)
                row.add_widget(button)
            row.shown_levels = model.levels
        for button, level in zip(reversed(row.children), model.levels, strict=False):
            button.accepting = model.accepting
            button.background = level.rgba if model.accepting else dim(level.rgba)

    def _pressed(self, button: LevelButton) -> None:
        self.controller.press(int(button.level))


class WaitingScreen(ModelScreen):
    """The idle (attract) screen: welcome, staff card, opening hours, the questionnaire QR, 请评价."""

    hours_heading = StringProperty("")
    hours_rows = ListProperty([])          # (days, sessions): the two columns of the hours table
    hours_status = StringProperty("")
    open_now = BooleanProperty(False)

    def on_model(self, _screen: Any, model: ScreenModel | None) -> None:
        hours = model.hours if model is not None else None
        self.hours_heading = hours.heading if hours else ""
        self.hours_rows = [(row.days, row.sessions) for row in hours.rows] if hours else []
        self.hours_status = hours.status if hours else ""
        self.open_now = bool(hours and hours.open_now)


class ReasonsScreen(ModelScreen):
    def on_model(self, _screen: Any, model: ScreenModel | None) -> None:
        if model is None:
            return
        grid = self.ids.reasons
        codes = tuple((reason.code, reason.label) for reason in model.reasons)
        if getattr(grid, "shown_reasons", None) != codes:
            grid.clear_widgets()
            for code, label in codes:
                grid.add_widget(ReasonToggle(code=code, text=label, controller=self.controller))
            grid.shown_reasons = codes
        for toggle, reason in zip(reversed(grid.children), model.reasons, strict=False):
            toggle.state = "down" if reason.selected else "normal"


class KeypadButton(Button):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """A key of a number keypad: the citizen's call-back and the staff's PIN (rule in widgets.kv)."""


class CallbackScreen(ModelScreen):
    """Draws a kiosk.screens.callback_form.CallbackFormModel; its controller is a kiosk.ui.callback.CallbackPanel."""

    form_model = ObjectProperty(None, allownone=True)

    def on_kv_post(self, _base: Any) -> None:
        for key in CALLBACK_KEYS:
            button = KeypadButton(text=key)
            button.bind(on_release=lambda b: self.controller.key(b.text))
            self.ids.keypad.add_widget(button)


class ThanksScreen(ModelScreen):
    def on_touch_down(self, touch: Any) -> bool:
        # The thanks screen has nothing to press: a touch means "done", which closes a complaint QR code
        # kept up for scanning (the staff corner and the dimmer have seen the touch already).
        if self.collide_point(*touch.pos) and self.controller is not None:
            self.controller.dismiss_thanks()
            return True
        return bool(super().on_touch_down(touch))


class OutOfServiceScreen(ModelScreen):
    pass


# -- staff screens (behind the hidden corner) ------------------------------------------


class ChoiceButton(Button):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    key = StringProperty("")
    selected = BooleanProperty(False)


KEYPAD = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", "←")   # C clears, ← deletes one


class SignInScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """Draws a SignInModel; the form (kiosk.screens.sign_in) decides everything."""

    form_model = ObjectProperty(None, allownone=True)
    controller = ObjectProperty(None, allownone=True)

    def on_kv_post(self, _base: Any) -> None:
        for key in KEYPAD:
            button = KeypadButton(text=key)
            button.bind(on_release=lambda b: self.controller.sign_in_key(b.text))
            self.ids.keypad.add_widget(button)

    def on_form_model(self, _screen: Any, model: SignInModel | None) -> None:
        if model is None:
            return
        box = self.ids.choices
        if [b.key for b in reversed(box.children)] != [c.key for c in model.choices]:
            box.clear_widgets()
            for choice in model.choices:
                button = ChoiceButton(key=choice.key)
                button.bind(on_release=lambda b: self.controller.sign_in_choose(b.key))
                box.add_widget(button)
        for button, choice in zip(reversed(box.children), model.choices, strict=False):
            button.text, button.selected = choice.label, choice.selected

    def submit(self) -> None:
        self.controller.sign_in_submit()


class ScoreLine(BoxLayout):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """One row of the staff table or the bad-review list: text left and right."""

    left = StringProperty("")
    right = StringProperty("")
    right_share = NumericProperty(0.55)   # of the left part's width
    highlighted = BooleanProperty(False)
    right_width = NumericProperty(0)

    def on_kv_post(self, _base: Any) -> None:
        self._split_trigger = Clock.create_trigger(self._split, -1)
        self.bind(size=self._split_trigger, left=self._split_trigger, right=self._split_trigger,
                  right_share=self._split_trigger, highlighted=self._split_trigger)
        self._split()

    def _split(self, *_args: object) -> None:
        """Both texts whole when the row has room for both (the right one as wide as it needs); otherwise
        the row is shared by `right_share` and each is shortened."""
        from kivy.core.text import Label as CoreLabel

        def needs(label: Any) -> float:
            measure = CoreLabel(font_size=label.font_size, font_name=label.font_name, bold=label.bold)
            padding: float = label.width - label.text_size[0]
            return float(measure.get_extents(label.text)[0]) + padding + 2

        left, right = self.ids.left_label, self.ids.right_label
        left_w, right_w = needs(left), needs(right)
        fits = left_w + right_w <= self.width
        self.right_width = right_w if fits else self.width * self.right_share / (1 + self.right_share)


class ScoresScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """Draws a kiosk.screens.scores.ScoresModel; read-only."""

    model = ObjectProperty(None, allownone=True)
    controller = ObjectProperty(None, allownone=True)
    signed_in_name = StringProperty("")
    back_label = StringProperty("")
    counter_label = StringProperty("")     # 在此窗口服务 or 结束在此窗口服务; empty: no such button

    def on_model(self, _screen: Any, model: ScoresModel | None) -> None:
        if model is None:
            return
        highlighted = [line for line in model.staff if line.highlighted]
        self.signed_in_name = highlighted[0].name if highlighted else ""
        table = self.ids.staff_table
        table.clear_widgets()      # rebuilt only when the screen opens, never per frame
        for line in model.staff:
            table.add_widget(ScoreLine(left=line.name, highlighted=line.highlighted, right_share=2.2,
                                       right=f"{line.total}   {line.good_rate_text}   "
                                             f"{model.texts['bad_reviews']} {line.bad}"))
        reviews = self.ids.bad_reviews
        reviews.clear_widgets()
        for review in model.bad_reviews:
            reviews.add_widget(ScoreLine(left=f"{review.time}  {review.level_label}  {review.staff_name}",
                                         right="、".join(review.reasons) or model.texts["no_reason"]))


class TechnicianScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """Draws a kiosk.screens.technician.TechnicianModel; each button is one Technician method."""

    model = ObjectProperty(None, allownone=True)
    controller = ObjectProperty(None, allownone=True)
    message = StringProperty("")

    def on_kv_post(self, _base: Any) -> None:
        for key in range(1, 6):
            button = KeypadButton(text=str(key))
            button.bind(on_release=lambda b: self.controller.technician_test_key(int(b.text)))
            self.ids.test_keys.add_widget(button)

    def on_model(self, _screen: Any, model: TechnicianModel | None) -> None:
        if model is None:
            return
        box = self.ids.sections
        box.clear_widgets()        # rebuilt when the screen opens or after an action, never per frame
        for section in model.sections:
            box.add_widget(Factory.SectionHeading(text=section.heading))
            for row in section.rows:
                box.add_widget(ScoreLine(left=row.label, right=row.value, right_share=1.4))


# The on-screen keyboard for enrollment: what URLs and enrollment codes need, nothing more.
KEYBOARD = (*"1234567890qwertyuiopasdfghjkl:zxcvbnm./-_", "←")


class ProvisionScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """Server URL and enrollment code typed on an on-screen keyboard (kiosk.screens.technician.ProvisionForm)."""

    controller = ObjectProperty(None, allownone=True)
    title = StringProperty("")
    server_label = StringProperty("")
    code_label = StringProperty("")
    back_label = StringProperty("")
    submit_label = StringProperty("")
    server = StringProperty("")
    code = StringProperty("")
    focus = StringProperty("server")
    message = StringProperty("")

    def on_kv_post(self, _base: Any) -> None:
        for key in KEYBOARD:
            button = KeypadButton(text=key)
            button.bind(on_release=lambda b: self.controller.provision_key(b.text))
            self.ids.keyboard.add_widget(button)

    def show(self, form: ProvisionForm, labels: dict[str, str]) -> None:
        self.title, self.back_label, self.submit_label = labels["provision"], labels["back"], labels["submit"]
        self.server_label, self.code_label = labels["server"], labels["code"]
        self.server, self.code, self.focus = form.server, form.code, form.focus.value
