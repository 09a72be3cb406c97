"""A flood of 1,000 panel presses in a second, with the touchscreen running.

The reader thread commits; the UI thread only draws coalesced views, so its
frames keep coming while the flood is handled by the cooldown rules.
"""
from __future__ import annotations

import threading
import time

from drivers.panel import Backoff
from drivers.simulator import PanelSimulator
from kiosk.devices.panel_link import PanelLink
from kiosk.rating.service import RatingService
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import EventKind
from tests.kiosk.ui.conftest import pump_until

PRESSES = 1000


def test_flood_is_counted_by_the_rules_and_never_blocks_the_ui(window, make_settings):
    from kivy.base import EventLoop

    from kiosk.ui.app import KivyScheduler, RatingUi

    with PanelSimulator() as sim:
        settings = make_settings(panel={"port": sim.device_path, "ping_interval_s": None},
                                 # Longer than the flood can take on a loaded machine: one citizen's cooldown
                                 # must cover every press, or a slow run counts a second "citizen".
                                 timings={"cooldown_s": 120.0, "thanks_s": 60.0})
        store = RatingStore(settings.store.path, Identity("d", "u", "c"))
        service = RatingService(settings, store, KivyScheduler())
        ui = RatingUi(settings, service)
        link = PanelLink(settings, service, backoff=Backoff(initial=0.05, cap=0.5))
        window.add_widget(ui.manager)
        try:
            service.start()
            link.start()
            pump_until(lambda: link.panel.connected)

            def flood() -> None:
                pace = threading.Event()
                for i in range(PRESSES):
                    sim.press(i % 5 + 1)
                    if i % 10 == 9:
                        pace.wait(0.01)                # 1,000 presses over about one second

            flooder = threading.Thread(target=flood)
            longest_frame, last = 0.0, time.monotonic()
            deadline = last + 30
            flooder.start()
            while flooder.is_alive() or link.panel.status().counters.frames_ok < PRESSES:
                EventLoop.idle()
                now = time.monotonic()
                longest_frame, last = max(longest_frame, now - last), now
                assert now < deadline, "flood not handled in 30 s"
            flooder.join()

            counters = link.panel.status().counters
            assert counters.frames_ok == PRESSES and counters.invalid == counters.unknown == 0
            counted = store.count_ratings()
            suppressed = len(store.events_of(EventKind.SUPPRESSED))
            assert counted == 1                                   # one citizen, one cooldown
            assert counted + suppressed == PRESSES                # every press accounted for
            assert longest_frame < 0.25, f"UI thread stalled {longest_frame:.3f} s"
            pump_until(lambda: ui.manager.current == "thanks")
        finally:
            link.stop()
            service.stop()
            window.remove_widget(ui.manager)
            store.close()

