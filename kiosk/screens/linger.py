"""The thanks screen with a QR code (complaint or receipt) stays up long enough for a phone to scan it. No Kivy.

The service ends every thanks after `timings.thanks_s`, this one too: the panel's keys, the cooldown and
the counter's requests work exactly as after any rating. Only the screen goes on drawing that thanks, QR
code and all, while the service merely rests (no request, no rating in progress), until
`timings.complaint_qr_s` after it first appeared or until a touch on it. Anything new (a request, a
rating, out of service) is drawn at once.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.config import Settings
from kiosk.rating.service import State, View
from kiosk.screens.presenter import shows_thanks_qr


class ComplaintLinger:
    def __init__(self, settings: Settings, monotonic: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._monotonic = monotonic
        self._thanks: View | None = None     # the thanks with the QR code, while it may still be drawn
        self._rating_uuid: str | None = None
        self._until = float("-inf")
        self._dismissed = False

    def view_to_draw(self, view: View) -> View:
        """`view`, or the thanks with its QR code while it is kept up over a resting service."""
        if shows_thanks_qr(self._settings, view):
            assert view.rating is not None
            if view.rating.uuid != self._rating_uuid:    # a redraw (language switch) does not restart it
                self._rating_uuid, self._dismissed = view.rating.uuid, False
                self._until = self._monotonic() + self._settings.timings.complaint_qr_s
            self._thanks = view
            return view
        if self._thanks is not None and self._holds_over(view):
            return self._thanks
        self._thanks = None
        return view

    def remaining_s(self) -> float | None:
        """Seconds until the thanks kept up must give way; None when none is kept up."""
        if self._thanks is None or self._dismissed:
            return None
        return max(0.0, self._until - self._monotonic())

    def dismiss(self) -> None:
        """A touch on the thanks: the citizen is done with it; it goes when the service's thanks does."""
        self._dismissed = True

    def _holds_over(self, view: View) -> bool:
        resting = view.state in (State.AWAITING, State.IDLE) and view.request is None and view.rating is None
        return resting and not self._dismissed and self._monotonic() < self._until
