"""The sign-in form behind the hidden corner: who is signing in, the PIN typed so far, what to say.

No Kivy: the screen draws a `SignInModel` and relays taps. Staff pick their
name from this counter's roster (a 工号 has letters a keypad lacks), then
type their PIN; a technician picks 技术员 and types the password.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.config import Locale, Settings
from kiosk.rating.access import AccessControl, Attempt, Outcome, Role
from kiosk.screens.texts import Voice

MAX_SECRET = 16
TECHNICIAN = "__technician__"

say = Voice("sign_in")


@dataclass(frozen=True)
class Choice:
    key: str          # a 工号, or TECHNICIAN
    label: str
    selected: bool


@dataclass(frozen=True)
class SignInModel:
    title: str
    choices: tuple[Choice, ...]
    dots: str         # one ● per digit typed: the PIN itself is never drawn
    message: str
    ok_label: str
    back_label: str


class SignInForm:
    def __init__(self, settings: Settings, access: AccessControl):
        self._settings = settings
        self._access = access
        self.reset()

    def reset(self) -> None:
        self.chosen: str | None = None
        self.secret = ""
        self._message: tuple[str, dict[str, object]] | None = None

    def choose(self, key: str) -> None:
        self.chosen, self.secret, self._message = key, "", None

    def type_digit(self, digit: str) -> None:
        if digit.isdigit() and len(digit) == 1 and len(self.secret) < MAX_SECRET:
            self.secret += digit

    def backspace(self) -> None:
        self.secret = self.secret[:-1]

    def submit(self) -> Attempt | None:
        """Check what was typed; None when nobody was chosen yet. The typed secret is always cleared."""
        if self.chosen is None:
            self._message = ("choose_first", {})
            return None
        role = Role.TECHNICIAN if self.chosen == TECHNICIAN else Role.STAFF
        attempt = self._access.sign_in(role, None if role is Role.TECHNICIAN else self.chosen, self.secret)
        self.secret = ""
        if attempt.outcome is Outcome.WRONG:
            self._message = ("wrong", {"n": attempt.tries_left})
        elif attempt.outcome is Outcome.LOCKED:
            self._message = ("locked", {"m": max(1, round(attempt.locked_for_s / 60))})
        elif attempt.outcome is Outcome.NOT_SET:
            self._message = ("no_password", {}) if role is Role.TECHNICIAN else ("no_pin", {"id": self.chosen})
        else:
            self.reset()
        return attempt

    def model(self, locale: Locale) -> SignInModel:
        english = locale is Locale.EN
        choices = [Choice(member.id, f"{member.name_en if english and member.name_en else member.name}"
                                     f"  {member.id}", member.id == self.chosen)
                   for member in self._settings.staff]
        choices.append(Choice(TECHNICIAN, say("technician", locale), self.chosen == TECHNICIAN))
        message = say(self._message[0], locale, **self._message[1]) if self._message else say("pick", locale)
        return SignInModel(title=say("title", locale), choices=tuple(choices), dots="●" * len(self.secret),
                           message=message, ok_label=say("ok", locale), back_label=say("back", locale))


def counter_label(signed_in: str | None, serving: str | None, locale: Locale) -> str:
    """The scores screen's button that takes the counter (as the counter PC's `I` line does) or leaves it.

    Empty (no button) for a technician: only the staff member who signed in with their own PIN may put their
    name on the citizen's screen. `serving`: who serves at the counter now."""
    if signed_in is None:
        return ""
    return say("leave_counter" if serving == signed_in else "serve", locale)
