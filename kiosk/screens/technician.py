"""Technician mode: what a technician reads and does at the terminal, without a laptop. No Kivy.

The screen draws a `TechnicianModel` and calls one method per button. Every
action is recorded as an event before its result is shown, so the store
keeps a trail of who touched the terminal and what they did. Nothing here
can add, edit or delete a rating.
"""
from __future__ import annotations

import enum
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from kiosk import __version__
from kiosk.config import Locale, Settings
from kiosk.rating.scoring import today
from kiosk.screens.texts import Voice
from kiosk.store import RatingStore, StorageError
from kiosk.store.export import NoStick, export_csv
from kiosk.store.status import gather
from kiosk.store.tables import EventKind

log = logging.getLogger(__name__)

EXPORT_DAYS = 31

say = Voice("technician")


class Action(str, enum.Enum):
    OPENED = "opened"
    CHECK_STORAGE = "check_storage"
    EXPORT = "export"
    TEST_KEY = "test_key"
    RECONNECT_PANEL = "reconnect_panel"
    TEST_CONNECTION = "test_connection"
    SYNC_NOW = "sync_now"
    PROVISION = "provision"
    RESTART = "restart"


class Centre(Protocol):
    """What technician mode asks of the centre (sync.actions.CentreActions); each call blocks."""

    def test_connection(self) -> Any: ...            # .server, .round_trip_ms
    def sync_now(self, progress: Callable[[int, int], None]) -> Any: ...   # .accepted, .duplicate, .rejected
    def provision(self, server: str, code: str) -> Any: ...                 # .device_id


Done = Callable[[str], None]   # the message to show; called on a worker thread


def in_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="technician", daemon=True).start()


class ProvisionField(str, enum.Enum):
    SERVER = "server"
    CODE = "code"


@dataclass
class ProvisionForm:
    """The two fields typed on the on-screen keyboard. Codes are upper case (the collector's alphabet)."""

    server: str = "https://"
    code: str = ""
    focus: ProvisionField = ProvisionField.SERVER

    def type(self, key: str) -> None:
        if self.focus is ProvisionField.CODE:
            self.code = (self.code + key.upper())[:64]
        else:
            self.server = (self.server + key)[:200]

    def backspace(self) -> None:
        if self.focus is ProvisionField.CODE:
            self.code = self.code[:-1]
        else:
            self.server = self.server[:-1]


@dataclass(frozen=True)
class TechnicianModel:
    title: str
    sections: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]   # (heading, ((name, value), …))
    qr_payload: str
    labels: dict[str, str]


class Technician:
    def __init__(self, settings: Settings, store: RatingStore, panels: Callable[[], list[Any]],
                 light_key: Callable[[int], bool], restart: Callable[[], None], *,
                 frames: Callable[[], list[Any]] = list, reconnect: Callable[[], None] = lambda: None,
                 centre: Centre | None = None, background: Callable[[Callable[[], None]], None] = in_thread):
        """`panels`: the live PanelStatus of each port; `light_key`: send L<d> to the panel;
        `frames`/`reconnect`: the panel's frame log and reconnect; `centre`: upload and enrollment;
        `background`: runs the network calls off the UI thread."""
        self._settings = settings
        self._store = store
        self._panels = panels
        self._light_key = light_key
        self._restart = restart
        self._frames = frames
        self._reconnect = reconnect
        self._centre = centre
        self._background = background
        self.provision_form = ProvisionForm()

    def model(self, locale: Locale) -> TechnicianModel:
        # No quick_check here: the screen is drawn on the UI thread, and 检查存储 runs the full check apart.
        status = gather(self._settings, self._store, quick_check=False)
        sections = [(say(part, locale), tuple((key, _text(value)) for key, value in getattr(status, part).items()))
                     for part in ("device", "store", "sync", "clock")]
        for panel in self._panels():
            counters = panel.counters
            sections.append((say("panel", locale), (
                ("port", panel.port), ("connected", _text(panel.connected)),
                ("model", _text(panel.model)), ("firmware", _text(panel.firmware)),
                ("last_frame_at", _text(panel.last_frame_at)),
                ("frames ok / bad checksum", f"{counters.frames_ok} / {counters.bad_checksum}"),
                ("invalid / unknown", f"{counters.invalid} / {counters.unknown}"),
                ("reconnects", str(counters.reconnects)))))
        frames = tuple((f.at.astimezone(self._settings.unit.zone).strftime("%H:%M:%S") + f"  {f.direction}",
                        f.text) for f in self._frames()[-12:])
        if frames:
            sections.append((say("frames", locale), frames))
        return TechnicianModel(title=say("title", locale), sections=tuple(sections),
                               qr_payload=self.qr_payload(), labels=self.labels(locale))

    @staticmethod
    def labels(locale: Locale) -> dict[str, str]:
        """Button and field labels of the technician screens."""
        keys = ("check", "export", "scores", "restart", "back", "test_key", "hint", "reconnect", "test_connection",
                "sync_now", "provision", "server", "code", "submit")
        return {key: say(key, locale, days=EXPORT_DAYS) for key in keys}

    def qr_payload(self) -> str:
        """For asset registration with a phone: who this terminal is, nothing secret."""
        s = self._settings
        return json.dumps({"device": s.device.id, "unit": s.unit.id, "unit_name": s.unit.name,
                           "counter": s.counter.id, "version": __version__}, ensure_ascii=False,
                          separators=(",", ":"), sort_keys=True)

    # -- actions (each recorded) -------------------------------------------------------

    def opened(self) -> None:
        self._record(Action.OPENED)

    def check_storage(self, locale: Locale, done: Done) -> None:
        """Off the UI thread: on years of ratings on an SD card the check outlasts the watchdog that the
        UI's main loop pings (30 s), which would kill the screen mid-check."""
        self._background(lambda: done(self._check_storage(locale)))

    def _check_storage(self, locale: Locale) -> str:
        try:
            integrity = self._store.integrity_check()
            result = self._store.verify()
        except StorageError as exc:
            self._record(Action.CHECK_STORAGE, ok=False, problem=str(exc))
            return say("bad_storage", locale, why=exc)
        ok = integrity == "ok" and result.ok
        problem = None if ok else (f"integrity_check: {integrity}" if integrity != "ok"
                                   else f"seq {result.first_broken_seq}: {result.problem}")
        self._record(Action.CHECK_STORAGE, ok=ok, problem=problem, checked=result.checked)
        return say("ok_storage", locale, n=result.checked) if ok else say("bad_storage", locale, why=problem)

    def export(self, locale: Locale, done: Done, now: datetime | None = None) -> None:
        """Off the UI thread too: a slow or failing stick must not hold the screen (and the watchdog) up."""
        self._background(lambda: done(self._export(locale, now)))

    def _export(self, locale: Locale, now: datetime | None) -> str:
        until = today(self._settings.unit.zone, now)
        since = until - timedelta(days=EXPORT_DAYS - 1)
        out = self._settings.access.export_dir / f"ratings-{self._settings.device.id}-{until.isoformat()}.csv"
        try:
            done = export_csv(self._store, self._settings, since, until, out, require_stick=True)
        except NoStick as exc:
            self._record(Action.EXPORT, ok=False, path=str(out), problem=str(exc))
            return say("no_stick", locale, path=exc.folder)
        except (OSError, StorageError) as exc:
            self._record(Action.EXPORT, ok=False, path=str(out), problem=str(exc))
            return say("export_failed", locale, why=exc)
        self._record(Action.EXPORT, ok=True, path=str(done.path), rows=done.rows, since=since.isoformat(),
                     until=until.isoformat())
        return say("exported", locale, n=done.rows, path=done.path)

    def test_key(self, key: int, locale: Locale) -> str:
        sent = self._light_key(key)
        self._record(Action.TEST_KEY, key=key, sent=sent)
        return say("lit", locale, key=key) if sent else say("no_panel", locale)

    def reconnect_panel(self, locale: Locale) -> str:
        self._record(Action.RECONNECT_PANEL)
        self._reconnect()
        return say("reconnecting", locale)

    def test_connection(self, locale: Locale, done: Done) -> None:
        def work() -> None:
            try:
                reached = self._require_centre(locale).test_connection()
            except Exception as exc:   # every failure (network, key, clock) is shown, never raised into the UI
                self._record(Action.TEST_CONNECTION, ok=False, problem=str(exc))
                done(say("unreachable", locale, why=exc))
                return
            self._record(Action.TEST_CONNECTION, ok=True, server=reached.server, ms=round(reached.round_trip_ms))
            done(say("reachable", locale, server=reached.server, ms=reached.round_trip_ms))
        self._background(work)

    def sync_now(self, locale: Locale, progress: Done, done: Done) -> None:
        def work() -> None:
            try:
                result = self._require_centre(locale).sync_now(
                    lambda n, total: progress(say("uploading", locale, n=n, total=total)))
            except Exception as exc:   # as above: a message on the screen, the queue stays as it was
                self._record(Action.SYNC_NOW, ok=False, problem=str(exc))
                done(say("upload_failed", locale, why=exc))
                return
            ok = result.accepted + result.duplicate
            self._record(Action.SYNC_NOW, ok=True, sent=ok, rejected=len(result.rejected))
            done(say("uploaded", locale, ok=ok, rejected=len(result.rejected)))
        self._background(work)

    def provision(self, locale: Locale, done: Done) -> None:
        form = self.provision_form
        server, code = form.server.strip(), form.code.strip()

        def work() -> None:
            try:
                enrolled = self._require_centre(locale).provision(server, code)
            except Exception as exc:   # as above
                self._record(Action.PROVISION, ok=False, server=server, problem=str(exc))
                done(say("provision_failed", locale, why=exc))
                return
            self._record(Action.PROVISION, ok=True, server=server, device_id=enrolled.device_id)
            done(say("provisioned", locale, device=enrolled.device_id))
        self._background(work)

    def _require_centre(self, locale: Locale) -> Centre:
        if self._centre is None:
            raise RuntimeError(say("no_centre", locale))
        return self._centre

    def restart(self) -> None:
        self._record(Action.RESTART)
        self._restart()

    def _record(self, action: Action, **detail: object) -> None:
        try:
            self._store.record_event(EventKind.TECHNICIAN_ACTION, action=action.value, **detail)
        except StorageError as exc:     # the action still runs: a technician may be here to fix the disk
            log.warning("could not record technician action %s: %s", action.value, exc)


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
