"""The call-back form: the number typed on the keypad, the consent tick, what to say. No Kivy.

The screen draws a `CallbackFormModel` and relays taps. The number is shown
while the citizen types it (it is their own screen); `reset` forgets it, and
the UI resets the form whenever the call-back step ends, so once submitted
the number is never drawn again.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from contract import LANDLINE_PATTERN, MOBILE_PATTERN
from kiosk.config import CallbackSettings, Locale
from kiosk.screens.texts import Voice

MAX_DIGITS = 12          # the longest landline: 0 + 3-digit area code + 8 digits
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", "←")   # C clears, ← deletes one


class Message(str, enum.Enum):
    HINT = "hint"
    NO_CONSENT = "no_consent"
    EMPTY = "empty"
    MOBILE_LENGTH = "mobile_length"
    MOBILE_PREFIX = "mobile_prefix"
    LANDLINE = "landline"
    NOT_A_PHONE = "not_a_phone"


ERRORS = frozenset(Message) - {Message.HINT}

say = Voice("callback")   # the messages are keyed by their Message values


def check_phone(digits: str) -> Message | None:
    """None for a mainland mobile or a landline with area code; else what is wrong with it."""
    if not digits:
        return Message.EMPTY
    if not digits.isdigit() or not digits.isascii():
        return Message.NOT_A_PHONE
    if digits.startswith("1"):
        if len(digits) != 11:
            return Message.MOBILE_LENGTH
        return None if re.fullmatch(MOBILE_PATTERN, digits) else Message.MOBILE_PREFIX
    if digits.startswith("0"):
        return None if re.fullmatch(LANDLINE_PATTERN, digits) else Message.LANDLINE
    return Message.NOT_A_PHONE      # a local number without its area code, or nonsense


def grouped(digits: str) -> str:
    """The number as people read it: 138 0013 8000, 010 6512 3456, 0571 8765 4321."""
    if digits.startswith("1"):
        parts = [digits[:3], digits[3:7], digits[7:]]
    elif digits.startswith("0"):
        cut = 3 if digits[1:2] in ("1", "2") else 4
        rest = digits[cut:]
        parts = [digits[:cut], rest[:4], rest[4:]]
    else:
        parts = [digits]
    return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class CallbackFormModel:
    title: str
    consent: str
    consented: bool
    number: str           # grouped digits, while typing only
    message: str
    error: bool           # the message is a refusal, drawn in red
    submit_label: str
    cancel_label: str


class CallbackForm:
    def __init__(self, settings: CallbackSettings):
        self._settings = settings
        self.reset()

    def reset(self) -> None:
        """Forget the number and the tick: called whenever the call-back step ends."""
        self.digits = ""
        self.consented = False
        self.message = Message.HINT

    @property
    def blank(self) -> bool:
        return not self.digits and not self.consented and self.message is Message.HINT

    def key(self, key: str) -> None:
        if key == "C":
            self.digits = ""
        elif key == "←":
            self.digits = self.digits[:-1]
        elif len(key) == 1 and key in "0123456789" and len(self.digits) < MAX_DIGITS:
            self.digits += key
        else:
            return
        self.message = Message.HINT

    def toggle_consent(self) -> None:
        self.consented = not self.consented
        if self.message is Message.NO_CONSENT:
            self.message = Message.HINT

    def submit(self) -> str | None:
        """The number to store, or None with `message` saying why not. Consent is checked first: without
        it the number is not even judged, let alone kept."""
        if not self.consented:
            self.message = Message.NO_CONSENT
            return None
        problem = check_phone(self.digits)
        if problem is not None:
            self.message = problem
            return None
        return self.digits

    def model(self, locale: Locale) -> CallbackFormModel:
        return CallbackFormModel(
            title=say("title", locale), consent=self._settings.consent(locale), consented=self.consented,
            number=grouped(self.digits), message=say(self.message, locale, n=len(self.digits)),
            error=self.message in ERRORS, submit_label=say("submit", locale), cancel_label=say("cancel", locale))
