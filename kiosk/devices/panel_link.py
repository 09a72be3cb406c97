"""PanelLink: physical panels and the counter PC, connected to the rating service.

The drivers know nothing of ratings; this adapter turns their events into
service calls and the service's outcomes into panel frames:

- ``K<d>`` → a press of the configured level; ``S`` → a request (请评价);
  ``C <case> [staff [item]]`` → a request tied to a case number (and its
  service item, 事项编码); ``I``/``O`` → staff sign-in/out; ``H`` → recorded
  with model and firmware.
- ``L<d>`` is sent only from the service's rating listener, which runs after
  the commit: a lit key is the panel's proof that the rating counted.
- ``A`` (all keys lit) while a press would count, ``L0`` when none would,
  ``B`` when a request opens. A panel that (re)connects starts dark: the
  link lights it at once from the service's current view.

Panel callbacks run on the reader thread; the service is thread-safe and the
commit it makes there (under a millisecond) never touches the UI thread.
"""
from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any

import serial

from drivers.panel import Backoff, PanelStatus, SerialPanel, SerialSettings
from drivers.protocol import (
    CaseEnded,
    FrameError,
    Hello,
    KeyPress,
    PanelEvent,
    Pong,
    Solicit,
    StaffIn,
    StaffOut,
    parse_panel_body,
)
from kiosk.config import PanelMode, SerialPortSettings, Settings
from kiosk.rating.service import PressOutcome, RatingService, State, View
from kiosk.store import StoredRating
from kiosk.store.tables import Channel, EventKind

log = logging.getLogger(__name__)


class PortRole(str, enum.Enum):
    PANEL = "panel"        # the rating keys (and the counter PC, when it shares the port)
    COUNTER = "counter"    # a port of the counter PC's own


# The counter PC opens requests and signs staff in and out; it never rates.
# A key press arriving on its port would be a rating nobody pressed.
COUNTER_EVENTS = (CaseEnded, StaffIn, StaffOut, Hello, Pong)


class Lights(enum.Enum):
    """What the panel's keys show, so each change is sent once."""

    OFF = "off"          # L0: no press would count
    ALL = "all"          # A: a rating is awaited
    RATED = "rated"      # L<d>: this key's rating is stored


class PanelLink:
    def __init__(self, settings: Settings, service: RatingService,
                 opener: Callable[..., Any] = serial.serial_for_url, backoff: Backoff | None = None) -> None:
        """`backoff`: the delays between reopen attempts of a lost port (Backoff's own by default)."""
        backoff = backoff or Backoff()
        self._settings = settings
        self._service = service
        self._keys = dict(settings.panel.keys)
        self._pressing = threading.local()   # .key: the panel key whose press the service is handling here
        self._key_for_level = {level: key for key, level in sorted(settings.panel.keys.items(), reverse=True)}
        self._lights: Lights | None = None
        self._beeped_for: object = None
        self._lights_lock = threading.Lock()
        self.panel = self._open(settings.panel, opener, backoff, PortRole.PANEL)
        self.counter = self._open(settings.counter_link, opener, backoff, PortRole.COUNTER)

    def _open(self, port: SerialPortSettings, opener: Callable[..., Any], backoff: Backoff,
              role: PortRole) -> SerialPanel | None:
        """The driver of a configured port; None when there is no port to open."""
        url = port.port
        if not url:
            return None
        byte_mode = role is PortRole.PANEL and self._settings.panel.mode is PanelMode.BYTE
        # kiosk.config accepts only frames that parse: no FrameError can be left out here.
        table = {byte: event for byte, frame in self._settings.panel.byte_table.items()
                 if not isinstance(event := parse_panel_body(frame), FrameError)}
        return SerialPanel(
            url, lambda event: self.handle(event, role),
            mode=PanelMode.BYTE if byte_mode else PanelMode.LINE,
            byte_table=table if byte_mode else None,
            settings=SerialSettings(baudrate=port.baudrate),
            backoff=backoff, ping_interval=port.ping_interval_s, checksum=port.checksum,
            on_state=lambda connected: self._connection_changed(role, url, connected),
            opener=opener)

    # -- life cycle --------------------------------------------------------------

    def start(self) -> None:
        """Listen to the service, then open the ports (each keeps reconnecting by itself)."""
        self._service.add_rating_listener(self._rating_stored)
        self._service.add_view_listener(self._view_changed)
        for port in self._ports():
            port.start()

    def stop(self) -> None:
        for port in self._ports():
            port.stop()

    def _ports(self) -> list[SerialPanel]:
        return [port for port in (self.panel, self.counter) if port is not None]

    def status(self) -> list[PanelStatus]:
        return [port.status() for port in self._ports()]

    # -- panel → service -----------------------------------------------------------

    def handle(self, event: PanelEvent, role: PortRole = PortRole.PANEL) -> None:
        """One decoded frame from a panel or the counter PC (reader thread)."""
        service = self._service
        if role is PortRole.COUNTER and not isinstance(event, COUNTER_EVENTS):
            log.warning("counter link sent %r: only C, I and O are accepted there; ignored", event)
            return
        if isinstance(event, KeyPress):
            self._press(event.key)
        elif isinstance(event, Solicit):
            service.solicit(source=role.value)
        elif isinstance(event, CaseEnded):
            service.solicit(case_no=event.case_no, staff_id=event.staff_id, source="counter",
                            item_code=event.item_code)
        elif isinstance(event, StaffIn):
            service.sign_in(event.staff_id)
        elif isinstance(event, StaffOut):
            service.sign_out()
        elif isinstance(event, Hello):
            log.info("%s says hello: %s firmware %s", role.value, event.model, event.firmware)
            service.record(EventKind.PANEL_HELLO, role=role.value, model=event.model, firmware=event.firmware)
        elif not isinstance(event, Pong):
            log.warning("%s: ignoring %r", role.value, event)

    def _press(self, key: int) -> None:
        level = self._keys.get(key)
        if level is None:
            log.warning("panel key K%d is not mapped to a level (panel.keys); ignored", key)
            return
        # The service tells of the stored rating on this same thread, within press(): the key pressed is
        # what L<d> must light, even where two keys share one level (K4 and K9 both 不满意 → K9 lights L9).
        self._pressing.key = key
        try:
            outcome = self._service.press(level, Channel.PANEL)
        finally:
            self._pressing.key = None
        if outcome is PressOutcome.COUNTED:
            rating = self._service.view.rating
            log.info("K%d → level %d counted (seq %s)", key, level, rating.seq if rating else "?")
        else:
            log.info("K%d → level %d %s", key, level, outcome.value)

    def _connection_changed(self, role: PortRole, port: str | None, connected: bool) -> None:
        if connected and role is PortRole.PANEL:
            self._relight()                  # before the record's commit: the citizen sees the keys first
        self._service.record(EventKind.PANEL_CONNECTED if connected else EventKind.PANEL_DISCONNECTED,
                             role=role.value, port=port)

    # -- service → panel -------------------------------------------------------------

    def _rating_stored(self, rating: StoredRating) -> None:
        # Called after the commit: this light is the panel's proof the rating counted.
        if self.panel is None:
            return
        pressed: int | None = getattr(self._pressing, "key", None)
        if pressed is None or self._keys.get(pressed) != rating.level:
            pressed = self._key_for_level.get(rating.level, 0)     # rated by touch or keyboard: the level's key
        with self._lights_lock:
            self._lights = Lights.RATED
            self.panel.send_light(pressed)

    def _view_changed(self, view: View) -> None:
        if self.panel is None:
            return
        with self._lights_lock:
            if view.request is not None and view.request is not self._beeped_for:
                self._beeped_for = view.request
                self.panel.send_beep()               # a request just opened: call the citizen's attention
            self._light_for(self.panel, view)

    def _relight(self) -> None:
        """A replugged panel starts dark, whatever it showed before: light it for the service's current view.
        The view is read under the lights lock, so a rating stored meanwhile lights its key after this, never
        before it (where this relight would put all keys back on over the rated one)."""
        if self.panel is None:
            return
        with self._lights_lock:
            self._lights = None
            self._light_for(self.panel, self._service.view)

    def _light_for(self, panel: SerialPanel, view: View) -> None:
        """The keys as `view` wants them, sent only if that changes them (lights lock held)."""
        if view.state in (State.THANKS, State.REASONS, State.CALLBACK) and self._lights is Lights.RATED:
            return                                   # keep the rated key lit while thanking
        wanted = Lights.ALL if view.accepting else Lights.OFF
        if wanted is not self._lights:
            self._lights = wanted
            if wanted is Lights.ALL:
                panel.send_all_lit()
            else:
                panel.send_light(0)
