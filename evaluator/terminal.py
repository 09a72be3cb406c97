"""Composition root: config → store → service → UI. The only module that knows them all."""
from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.config import Locale, Settings
from kiosk.screens.presenter import ComplaintLink, ReceiptLink, ScreenName
from kiosk.store import Identity, RatingStore, StorageError

if TYPE_CHECKING:   # these bring Kivy, which must not load before prepare_kivy (kiosk.ui.boot)
    from kiosk.devices.panel_link import PanelLink
    from kiosk.rating.access import AccessControl
    from kiosk.screens.scores import ScoresModel
    from kiosk.screens.technician import Technician
    from kiosk.ui.app import RatingUi
    from kiosk.ui.staff import ScoresSource

log = logging.getLogger(__name__)


def open_store(settings: Settings, migrate: bool = True) -> RatingStore:
    """The store of this terminal; `migrate=False` for tools that only use an existing one."""
    identity = Identity(device_id=settings.device.id, unit_id=settings.unit.id, counter_id=settings.counter.id)
    return RatingStore(settings.store.path, identity, busy_timeout_ms=settings.store.busy_timeout_ms,
                       migrate=migrate)


def run_terminal(settings: Settings, config_path: str | None = None) -> int:
    """The touchscreen terminal, with any configured panel, until the window closes."""
    from kiosk.ui.boot import prepare_kivy

    font = prepare_kivy(settings)
    log.info("font %s; store %s; mode %s", font, settings.store.path, settings.mode.value)
    from kiosk.devices.panel_link import PanelLink
    from kiosk.rating.service import RatingService
    from kiosk.ui.app import EvaluatorApp, KivyScheduler

    try:
        store = open_store(settings)
    except StorageError as exc:
        log.error("cannot open the rating store, out of service until it can: %s", exc)
        return run_out_of_service(settings, exc)
    try:
        service = RatingService(settings, store, KivyScheduler())
        access, scores = staff_access(settings, store)
        link = PanelLink(settings, service)
        EvaluatorApp(settings, service, link=link, access=access, scores=scores,
                     technician=lambda restart: technician_mode(settings, store, link, restart, config_path),
                     complaint_link=complaint_link(settings), receipt_link=receipt_link(settings)).run()
    finally:
        store.close()
    return 0


EXIT_RESTART = 75   # EX_TEMPFAIL: the store works again; systemd (Restart=always) starts the terminal afresh


def run_out_of_service(settings: Settings, error: StorageError) -> int:
    """The store cannot even be opened (disk gone, file unreadable): show out of service, not a black
    screen, and retry; once it opens, exit so that the terminal starts afresh on it."""
    from kivy.clock import Clock

    from kiosk.rating.service import State, View
    from kiosk.ui.app import RatingUi, StatusApp

    def retry(_dt: float) -> None:
        try:
            open_store(settings).close()
        except StorageError as exc:
            ui.show(View(state=State.OUT_OF_SERVICE, mode=settings.mode, accepting=False, error=str(exc)))
            return
        log.warning("the rating store opens again; restarting the terminal")
        app.exit_code = EXIT_RESTART
        app.stop()

    ui = RatingUi(settings, service=None)
    ui.show(View(state=State.OUT_OF_SERVICE, mode=settings.mode, accepting=False, error=str(error)))
    app = StatusApp(settings, ui)
    Clock.schedule_interval(retry, settings.timings.storage_retry_s)
    app.run()
    return app.exit_code


def complaint_link(settings: Settings) -> ComplaintLink:
    """Rating uuid → the complaint URL signed with the device key (read when needed: enrollment may come later).

    Not enrolled yet: no key the centre could check, so the plain complaint page (None here).
    """
    # sync.client brings `requests`, a tenth of a second the first frame need not wait for: it is
    # imported a few seconds after start, before any citizen can have finished a bad review.
    warm = threading.Timer(3.0, importlib.import_module, ("sync.client",))
    warm.daemon = True        # never holds up an exit
    warm.start()

    def link(rating_uuid: str) -> str | None:
        from contract import complaint_url
        from sync.client import Credentials, SyncError

        base = settings.citizen.complaint_url
        try:
            credentials = Credentials.load(settings.sync.state_dir)
        except SyncError:
            return None
        return complaint_url(base, credentials.secret, credentials.device_id, rating_uuid) if base else None

    return link


def receipt_link(settings: Settings) -> ReceiptLink:
    """Rating uuid → the receipt URL signed with the device key, read when needed like the complaint's; None
    before enrollment (a receipt nobody can check is no receipt) or without a receipt page."""
    def link(rating_uuid: str) -> str | None:
        from contract import receipt_url
        from sync.client import Credentials, SyncError

        base = settings.citizen.receipt_url
        if not base:
            return None
        try:
            credentials = Credentials.load(settings.sync.state_dir)
        except SyncError:
            return None
        return receipt_url(base, credentials.secret, credentials.device_id, rating_uuid)

    return link


def staff_access(settings: Settings, store: RatingStore) -> tuple[AccessControl, ScoresSource]:
    """What the staff screens need: who may sign in, and the figures they see (read on opening)."""
    from kiosk.rating.access import AccessControl, AccessFile
    from kiosk.screens.scores import build_scores

    access = AccessControl(settings, store, AccessFile(settings.sync.state_dir))

    def scores(staff_id: str | None, locale: Locale) -> ScoresModel:
        return build_scores(settings, store, locale, staff_id, target=settings.access.target_good_rate)

    return access, scores


def technician_mode(settings: Settings, store: RatingStore, link: PanelLink | None, restart: Callable[[], None],
                    config_path: str | None = None,
                    background: Callable[[Callable[[], None]], None] | None = None, *,
                    relaunch: Callable[[], None] | None = None,
                    environ: Mapping[str, str] | None = None) -> Technician:
    """Technician mode on this terminal's store, panel link and centre. `restart` ends the app: under systemd
    (`environ`, default os.environ), systemd starts it again; elsewhere `relaunch` runs first (default:
    `relaunch_at_exit`). `config_path`: the config.yaml an enrollment must validate with. `background`: where
    the slow actions run (default: a thread of their own)."""
    from kiosk.screens.technician import CentreProblem, Technician, in_thread
    from sync.actions import CentreActions
    from sync.client import AuthError, Credentials, ProtocolError, SyncError, TransientError

    panel = link.panel if link is not None else None

    def light(key: int) -> bool:
        return panel is not None and panel.send_light(key)

    def explain(exc: Exception) -> CentreProblem:
        """Which of the screen's words fit the centre client's error (kiosk/ never sees sync's types)."""
        try:
            Credentials.load(settings.sync.state_dir)
        except SyncError:             # no device key (or none readable): enrolling gives one
            return CentreProblem.NOT_ENROLLED
        kinds = ((AuthError, CentreProblem.REFUSED), (TransientError, CentreProblem.NO_NETWORK),
                 (ProtocolError, CentreProblem.MALFORMED))
        return next((problem for kind, problem in kinds if isinstance(exc, kind)), CentreProblem.FAILED)

    return Technician(settings, store, panels=link.status if link is not None else list, light_key=light,
                      restart=restart, frames=panel.recent_frames if panel is not None else list,
                      reconnect=panel.reconnect if panel is not None else None,
                      centre=CentreActions(settings, store, config_path), background=background or in_thread,
                      explain=explain, relaunch=relaunch or relaunch_at_exit,
                      environ=os.environ if environ is None else environ)


def relaunch_at_exit() -> None:
    """Technician mode's restart where no systemd starts the terminal again: once this process has ended
    cleanly (window closed, panel released, store closed), it becomes a fresh run of the same command."""
    import atexit

    atexit.register(_relaunch)


def _relaunch() -> None:
    from kiosk.screens.technician_restart import relaunch_command

    command = relaunch_command(sys.executable, sys.orig_argv)
    log.warning("restarting as technician mode asked: %s", " ".join(command))
    logging.shutdown()            # exec keeps no buffers: what is logged is written now
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)


def run_headless(settings: Settings) -> int:
    """A button-only terminal: panel, service and store, no screen; until SIGTERM or SIGINT."""
    from kiosk.devices.panel_link import PanelLink
    from kiosk.devices.terminal_core import MainLoop, TerminalCore
    from kiosk.rating.service import RatingService, ThreadScheduler

    store = open_store(settings)
    service = RatingService(settings, store, ThreadScheduler(), ask_reasons=False)
    core = TerminalCore(service, PanelLink(settings, service))
    loop = MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: loop.stop())
    core.start(loop)
    log.info("headless terminal running: panel %s, counter link %s, store %s, mode %s",
             settings.panel.port, settings.counter_link.port, settings.store.path, settings.mode.value)
    try:
        loop.run()
    finally:
        core.stop()
        store.close()
        log.info("headless terminal stopped")
    return 0


def render_snapshot(settings: Settings, name: str, out: Path, locale: Locale,
                    size: tuple[int, int] | None = None) -> Path:
    """Draw one screen (a name in kiosk.screens.demo.SNAPSHOTS) with demo data into a PNG, offscreen."""
    from kiosk.screens.demo import demo_receipt_link, demo_settings, demo_team_settings, show_demo, snapshot_screen
    from kiosk.ui.boot import prepare_kivy

    screen = snapshot_screen(name)

    staff_screen = screen in (ScreenName.SIGN_IN, ScreenName.SCORES, ScreenName.TECHNICIAN, ScreenName.PROVISION)
    demo = demo_team_settings(settings) if staff_screen else demo_settings(settings)
    prepare_kivy(demo, size=size, offscreen=True)
    from kivy.base import EventLoop
    from kivy.core.window import Window

    from kiosk.ui.app import RatingUi

    EventLoop.ensure_window()
    with tempfile.TemporaryDirectory(prefix="evaluator-snapshot-") as scratch:
        if staff_screen:
            ui = _staff_demo(demo, screen, locale, Path(scratch))
        else:
            ui = RatingUi(demo, service=None, locale=locale, receipt_link=demo_receipt_link)
            show_demo(ui, name, demo)
        Window.add_widget(ui.manager)
        for _ in range(4):  # layout, coalesced redraws and kv bindings settle over a few frames
            EventLoop.idle()
        out.parent.mkdir(parents=True, exist_ok=True)
        ui.manager.export_to_png(str(out))
        Window.remove_widget(ui.manager)
    return out


def _staff_demo(demo: Settings, screen: ScreenName, locale: Locale, scratch: Path) -> RatingUi:
    """The staff screens on a throwaway demo store in `scratch`: never the terminal's own store."""
    from datetime import datetime

    from kiosk.screens.demo import fill_demo_store
    from kiosk.ui.app import RatingUi

    demo = demo.model_copy(update={
        "sync": demo.sync.model_copy(update={"state_dir": scratch / "sync"}),
        "store": demo.store.model_copy(update={"path": scratch / "demo.db"})})
    store = fill_demo_store(demo, demo.store.path, datetime.now(UTC))
    access, scores = staff_access(demo, store)
    # A snapshot draws the check's result: the check runs at once, as no watchdog waits on this window.
    technician = technician_mode(demo, store, None, restart=lambda: None, background=lambda work: work())
    ui = RatingUi(demo, service=None, locale=locale, access=access, scores=scores, technician=lambda: technician)
    staff, staff_id = ui.staff, demo.counter.staff_id
    if staff is None or staff_id is None:
        raise ValueError("staff snapshots need demo_team_settings: staff access and a signed-in staff member")
    if screen is ScreenName.TECHNICIAN:
        technician.check_storage(locale, staff.open_technician)
    elif screen is ScreenName.PROVISION:
        staff.open_technician()
        staff.open_provision()
        for key in "pingjia.example.gov.cn":
            staff.provision_key(key)
        staff.provision_focus("code")
        for key in "k7m2q":
            staff.provision_key(key)
    elif screen is ScreenName.SIGN_IN:
        staff.open_sign_in()
        staff.sign_in_choose(staff_id)
        for digit in "246":
            staff.sign_in_key(digit)
    else:
        staff.open_scores(staff_id)
    store.close()
    return ui
