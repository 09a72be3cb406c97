"""Technician mode: what a technician reads and does at the terminal, without a laptop. No Kivy.

The screen draws a `TechnicianModel` and calls one method per button. Every
action is recorded as an event before its result is shown, so the store
keeps a trail of who touched the terminal and what they did. Nothing here
can add, edit or delete a rating.
"""
from __future__ import annotations

import enum
import errno
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from kiosk import __version__
from kiosk.config import Locale, Settings
from kiosk.rating.scoring import today
from kiosk.screens.technician_restart import RestartKind, SecondTap, restart_kind
from kiosk.screens.technician_rows import Formatter, Section, frames_section, panel_section, status_section
from kiosk.screens.texts import Voice
from kiosk.store import RatingStore, StorageError
from kiosk.store.export import NoStick, export_csv
from kiosk.store.status import gather
from kiosk.store.sync_state import verify_store
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


class CentreProblem(str, enum.Enum):
    """Why a call to the centre failed, as the screen says it (its catalog key); the composition root tells
    them apart (`explain`), since kiosk/ never imports sync/ and its exception types."""

    NOT_ENROLLED = "not_enrolled"
    REFUSED = "refused"              # 401/403: key revoked, clock far off
    NO_NETWORK = "no_network"        # no route, timeout, the centre busy or down
    MALFORMED = "malformed"          # the centre refused the request itself: a bug on one side
    FAILED = "centre_failed"         # anything else


def _unexplained(_exc: Exception) -> CentreProblem:
    return CentreProblem.FAILED


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


def provision_message(exc: Exception, locale: Locale) -> str:
    """One line in the screen's language: the catalog's words for the `problem` (a sync.provision.ProvisionProblem,
    filled from its `values`) that a refused enrollment carries; else the error's own words."""
    name = f"provision_{getattr(getattr(exc, 'problem', None), 'value', '')}"
    values = getattr(exc, "values", None)
    if name in say.names() and isinstance(values, dict):
        return say(name, locale, **values)
    return say("provision_failed", locale, why=exc)


@dataclass(frozen=True)
class TechnicianModel:
    title: str
    device: str                      # the header's right side: which terminal this is
    sections: tuple[Section, ...]
    qr_payload: str
    labels: dict[str, str]

    def section(self, key: str) -> Section:
        """The section of `key` ("device", "store", "sync", "clock", "panel", "frames"); KeyError if none."""
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)


class Technician:
    def __init__(self, settings: Settings, store: RatingStore, panels: Callable[[], list[Any]],
                 light_key: Callable[[int], bool], restart: Callable[[], None], *,
                 frames: Callable[[], list[Any]] = list, reconnect: Callable[[], None] | None = None,
                 centre: Centre | None = None, background: Callable[[Callable[[], None]], None] = in_thread,
                 explain: Callable[[Exception], CentreProblem] = _unexplained,
                 relaunch: Callable[[], None] | None = None, environ: Mapping[str, str] = os.environ):
        """`panels`: the live PanelStatus of each port; `light_key`: send L<d> to the panel;
        `frames`/`reconnect`: the panel's frame log and reconnect (None: no panel configured); `centre`: upload
        and enrollment, `explain`: why one of its calls failed; `background`: runs the network calls off the
        UI thread. `restart` ends the program; `relaunch`, called just before it where no systemd would start
        the program again (`environ`), arranges for it to start itself (None: it only ends)."""
        self._settings = settings
        self._store = store
        self._panels = panels
        self._light_key = light_key
        self._restart = restart
        self._relaunch = relaunch
        self._environ = environ
        self._frames = frames
        self._reconnect = reconnect
        self._centre = centre
        self._explain = explain
        self._background = background
        self.provision_form = ProvisionForm()
        self.restart_tap = SecondTap()

    def model(self, locale: Locale) -> TechnicianModel:
        # No quick_check here: the screen is drawn on the UI thread, and 检查存储 runs the full check apart.
        status = gather(self._settings, self._store, quick_check=False)
        fmt = Formatter(locale, self._settings.unit.zone)
        sections = [status_section(part, getattr(status, part), fmt) for part in ("device", "store", "sync", "clock")]
        panels = self._panels()
        # Live from the link when there is one; else what the store last recorded (and the port configured).
        sections += [panel_section(panel, fmt) for panel in panels] or [status_section("panel", status.panel, fmt)]
        frames = self._frames()[-12:]
        if frames:
            sections.append(frames_section(frames, fmt))
        labels = self.labels(locale)
        if self.restart_tap.armed:
            labels["restart"] = say("confirm_restart", locale)
        return TechnicianModel(title=say("title", locale), device=self._settings.device.id, sections=tuple(sections),
                               qr_payload=self.qr_payload(), labels=labels)

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
        self.restart_tap.cancel()
        self._record(Action.OPENED)

    def check_storage(self, locale: Locale, done: Done) -> None:
        """Off the UI thread: on years of ratings on an SD card the check outlasts the watchdog that the
        UI's main loop pings (30 s), which would kill the screen mid-check."""
        self._background(lambda: done(self._check_storage(locale)))

    def _check_storage(self, locale: Locale) -> str:
        try:
            integrity = self._store.integrity_check()
            # With the anchor of what the centre acknowledged: a cut tail of synced ratings shows here too.
            result = verify_store(self._store, self._settings.sync.state_dir)
        except StorageError as exc:
            self._record(Action.CHECK_STORAGE, ok=False, problem=str(exc))
            return say("bad_storage", locale, why=say("storage_unreadable", locale))
        ok = integrity == "ok" and result.ok
        problem = None if ok else (f"integrity_check: {integrity}" if integrity != "ok"
                                   else f"seq {result.first_broken_seq}: {result.problem}")
        self._record(Action.CHECK_STORAGE, ok=ok, problem=problem, checked=result.checked)
        if ok:
            return say("ok_storage", locale, n=result.checked)
        # The event keeps the details; the screen says what they mean, in its language.
        why = say("storage_damaged", locale) if integrity != "ok" else say("chain_broken", locale,
                                                                           seq=result.first_broken_seq)
        return say("bad_storage", locale, why=why)

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
            return say("export_failed", locale, why=_export_problem(exc, locale))
        self._record(Action.EXPORT, ok=True, path=str(done.path), rows=done.rows, since=since.isoformat(),
                     until=until.isoformat())
        return say("exported", locale, n=done.rows, path=done.path)

    def test_key(self, key: int, locale: Locale) -> str:
        sent = self._light_key(key)
        self._record(Action.TEST_KEY, key=key, sent=sent)
        if sent:
            return say("lit", locale, key=key)
        return say("no_panel", locale) if self._reconnect is not None else say("no_panel_configured", locale)

    def reconnect_panel(self, locale: Locale) -> str:
        self._record(Action.RECONNECT_PANEL, configured=self._reconnect is not None)
        if self._reconnect is None:
            return say("no_panel_configured", locale)
        self._reconnect()
        return say("reconnecting", locale)

    def test_connection(self, locale: Locale, done: Done) -> None:
        def work() -> None:
            try:
                reached = self._require_centre(locale).test_connection()
            except Exception as exc:   # every failure (network, key, clock) is shown, never raised into the UI
                self._record(Action.TEST_CONNECTION, ok=False, problem=str(exc))
                done(say("unreachable", locale, why=self._centre_problem(exc, locale)))
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
                done(say("upload_failed", locale, why=self._centre_problem(exc, locale)))
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
                done(provision_message(exc, locale))
                return
            self._record(Action.PROVISION, ok=True, server=server, device_id=enrolled.device_id)
            done(say("provisioned", locale, device=enrolled.device_id))
        self._background(work)

    def _require_centre(self, locale: Locale) -> Centre:
        if self._centre is None:
            raise RuntimeError(say("no_centre", locale))
        return self._centre

    def _centre_problem(self, exc: Exception, locale: Locale) -> str:
        """What went wrong with the centre, in the screen's language (the event and the log keep the error)."""
        log.warning("technician mode: the centre call failed: %s", exc)
        if self._centre is None:
            return say("no_centre", locale)
        return say(self._explain(exc).value, locale, enroll=say("provision", locale))

    def restart(self, locale: Locale) -> str:
        """重启程序 asks first: the button turns into 确认重启, and only a second tap within RESTART_CONFIRM_S
        restarts (a first tap after that asks again). Returns the message to show."""
        if not self.restart_tap.tap():
            return self.restart_ask(locale)
        kind = restart_kind(self._environ) if self._relaunch is not None else RestartKind.EXIT
        self._record(Action.RESTART, how=kind.value)
        if kind is RestartKind.RELAUNCH and self._relaunch is not None:
            self._relaunch()
        self._restart()
        return say("restarting", locale)

    def restart_ask(self, locale: Locale) -> str:
        """What the screen says while 确认重启 waits for its second tap."""
        return say("restart_ask", locale, s=f"{self.restart_tap.window_s:g}")

    def _record(self, action: Action, **detail: object) -> None:
        try:
            self._store.record_event(EventKind.TECHNICIAN_ACTION, action=action.value, **detail)
        except StorageError as exc:     # the action still runs: a technician may be here to fix the disk
            log.warning("could not record technician action %s: %s", action.value, exc)


def _export_problem(exc: OSError | StorageError, locale: Locale) -> str:
    if isinstance(exc, StorageError):
        return say("storage_unreadable", locale)
    if exc.errno == errno.ENOSPC:
        return say("stick_full", locale)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return say("stick_read_only", locale)
    return say("stick_failed", locale)
