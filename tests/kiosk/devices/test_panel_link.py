"""Panels and the counter PC driving the real service and store, over real ptys."""
from __future__ import annotations

import queue
import threading
import time

import pytest

from contract import HASHED_FIELDS, rating_hash
from drivers.panel import Backoff
from drivers.simulator import PanelSimulator
from kiosk.devices.panel_link import PanelLink
from kiosk.rating.service import RatingService, State, ThreadScheduler
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import EventKind
from tests.conftest import merge

FAST = {"timings": {"cooldown_s": 0.3, "thanks_s": 0.1, "solicit_window_s": 5}}


def frames(sim: PanelSimulator, until, timeout_s: float = 5.0) -> list:
    """What the terminal sent, up to and including the first frame for which `until` holds."""
    seen, deadline = [], time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching frame within {timeout_s} s; got {seen}")
        try:
            frame = sim.received.get(timeout=left)
        except queue.Empty:
            continue
        if frame != ("P",):
            seen.append(frame)
        if until(frame):
            return seen


def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    event = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        event.wait(0.01)


@pytest.fixture
def terminal(make_settings):
    made = []

    def build(sim: PanelSimulator, counter: PanelSimulator | None = None, backoff: Backoff | None = None,
              **overrides):
        base = {"panel": {"port": sim.device_path, "ping_interval_s": None},
                "counter_link": {"port": counter.device_path if counter else None}, **FAST}
        settings = make_settings(**merge(base, overrides))
        store = RatingStore(settings.store.path, Identity("d", "u", "c"))
        service = RatingService(settings, store, ThreadScheduler())
        link = PanelLink(settings, service, backoff=backoff or Backoff(initial=0.05, cap=0.5))
        service.start()
        link.start()
        made.append((link, service, store))
        # pyserial flushes input on open: a frame sent before that is lost, as on a real line.
        wait_for(lambda: all(status.connected for status in link.status()))
        return link, service, store

    yield build
    for link, service, store in made:
        link.stop()
        service.stop()
        store.close()


def test_key_press_is_stored_before_its_key_lights(terminal):
    with PanelSimulator() as sim:
        link, service, store = terminal(sim)
        assert frames(sim, lambda f: f == ("A",)) == [("A",)]    # ready: all keys lit
        sim.press(2)
        assert frames(sim, lambda f: f[0] == "L") == [("L", 2)]
        row = store.recent_ratings(1)[0]
        assert (row["level"], row["channel"]) == (4, "panel")
        assert frames(sim, lambda f: f == ("A",)) == [("L", 0), ("A",)]   # cooldown, then ready again


def test_the_pressed_key_lights_even_where_two_keys_share_a_level(terminal):
    keys = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1, 9: 4}              # K2 and K9 both 满意 (a good level: no reason step)
    with PanelSimulator() as sim:
        _link, _service, store = terminal(sim, panel={"keys": keys}, timings={"cooldown_s": 0.3,
                                                                             "thanks_s": 0.1})
        frames(sim, lambda f: f == ("A",))
        sim.press(9)
        assert frames(sim, lambda f: f[0] == "L") == [("L", 9)]
        frames(sim, lambda f: f == ("A",))
        sim.press(2)
        assert frames(sim, lambda f: f[0] == "L") == [("L", 2)]
        assert [row["level"] for row in store.recent_ratings(2)] == [4, 4]


def test_repeated_presses_do_not_count(terminal):
    with PanelSimulator() as sim:
        _link, _service, store = terminal(sim, timings={"cooldown_s": 30, "thanks_s": 0.1})
        frames(sim, lambda f: f == ("A",))
        for key in (1, 1, 5, 3):
            sim.press(key)
        frames(sim, lambda f: f[0] == "L")
        wait_for(lambda: len(store.events_of(EventKind.SUPPRESSED)) == 3)
        assert store.count_ratings() == 1 and store.recent_ratings(1)[0]["level"] == 5


def test_staff_key_opens_one_request_in_solicited_mode(terminal):
    with PanelSimulator() as sim:
        _link, service, store = terminal(sim, mode="solicited")
        assert frames(sim, lambda f: f == ("L", 0)) == [("L", 0)]   # waiting: keys dark
        sim.press(1)                                            # nobody asked: does not count
        wait_for(lambda: len(store.events_of(EventKind.SUPPRESSED)) == 1)
        sim.solicit()
        assert frames(sim, lambda f: f == ("A",)) == [("B",), ("A",)]
        sim.press(3)
        frames(sim, lambda f: f == ("L", 3))
        assert store.recent_ratings(1)[0]["level"] == 3
        assert frames(sim, lambda f: f == ("L", 0)) == [("L", 0)]   # back to waiting: keys dark
        assert service.view.state is State.IDLE


def test_counter_link_on_its_own_port_ties_case_and_staff(terminal):
    with PanelSimulator() as sim, PanelSimulator() as counter:
        _link, service, store = terminal(sim, counter, mode="solicited",
                                         staff=[{"id": "E1023", "name": "李明"}])
        counter.sign_in("E1023")
        wait_for(lambda: service.view.staff_id == "E1023")
        counter.case("2026A-0042")
        frames(sim, lambda f: f == ("A",))
        sim.press(1)
        frames(sim, lambda f: f == ("L", 1))
        row = store.recent_ratings(1)[0]
        assert (row["case_no"], row["staff_id"], row["level"]) == ("2026A-0042", "E1023", 5)
        counter.case("2026A-0043", "E2000")                    # the case names its own staff
        frames(sim, lambda f: f == ("A",))
        sim.press(5)
        frames(sim, lambda f: f == ("L", 5))
        assert store.recent_ratings(1)[0]["staff_id"] == "E2000"
        counter.sign_out()
        wait_for(lambda: service.view.staff_id is None)
        assert [e["detail"]["staff_id"] for e in store.events_of(EventKind.STAFF_SIGN_OUT)] == ["E1023"]


def test_the_counter_pc_cannot_rate_or_open_a_request_without_a_case(terminal):
    with PanelSimulator() as sim, PanelSimulator() as counter:
        link, service, store = terminal(sim, counter, mode="solicited")
        counter.send_raw(b"S\n")                 # the staff key belongs on the panel
        counter.send_raw(b"K1\n")                # a rating nobody pressed
        counter.case("2026A-0050")               # marks where the counter's frames have all been read
        frames(sim, lambda f: f == ("A",))
        counter.send_raw(b"K1\n")                # even while a rating is awaited
        counter.sign_out()
        wait_for(lambda: link.counter.status().counters.frames_ok == 5)
        assert store.count_ratings() == 0
        assert [e["detail"]["source"] for e in store.events_of(EventKind.SOLICITED)] == ["counter"]
        sim.press(2)                              # the citizen's own press still counts
        frames(sim, lambda f: f == ("L", 2))
        assert store.recent_ratings(1)[0]["case_no"] == "2026A-0050"


def test_malformed_staff_ids_are_counted_and_never_stored(terminal):
    with PanelSimulator() as sim:
        link, service, store = terminal(sim, mode="solicited")
        sim.send_raw(b"I " + b"E" * 41 + b"\n")
        sim.send_raw(b"I E10/23\n")
        sim.send_raw(b"C 2026A-0051 E10/23\n")
        wait_for(lambda: link.panel.status().counters.invalid == 3)
        assert service.view.staff_id is None and service.view.state is State.IDLE
        assert store.events_of(EventKind.STAFF_SIGN_IN) == [] and store.events_of(EventKind.SOLICITED) == []


def test_malformed_case_number_is_counted_and_never_stored(terminal):
    with PanelSimulator() as sim:
        link, service, store = terminal(sim, mode="solicited")
        sim.send_raw(b"C bad/case!\n")
        sim.send_raw(b"C " + b"x" * 41 + b"\n")
        wait_for(lambda: link.panel.status().counters.invalid == 2)
        assert service.view.state is State.IDLE
        assert store.events_of(EventKind.SOLICITED) == []


def test_hello_is_recorded_with_model_and_firmware(terminal):
    with PanelSimulator() as sim:
        link, _service, store = terminal(sim)
        sim.hello("EVP-5K", "2.1.0")
        wait_for(lambda: store.events_of(EventKind.PANEL_HELLO))
        assert store.events_of(EventKind.PANEL_HELLO)[0]["detail"] == {
            "role": "panel", "model": "EVP-5K", "firmware": "2.1.0"}
        assert link.status()[0].model == "EVP-5K"


def test_byte_mode_panel_rates_without_replies(terminal):
    with PanelSimulator() as sim:
        _link, _service, store = terminal(sim, panel={"mode": "byte"})
        sim.send_raw(b"2")
        wait_for(lambda: store.count_ratings() == 1)
        assert store.recent_ratings(1)[0]["level"] == 4
        assert sim.received.empty()                               # byte-mode panels get nothing back


def test_unplugged_panel_recovers_by_itself_and_loses_no_press(terminal, tmp_path):
    """The panel is opened through a udev-like symlink; unplug closes the pty, replug makes a new one."""
    link_path = tmp_path / "evaluator-panel"
    first = PanelSimulator()
    link_path.symlink_to(first.device_path)

    class Linked:
        device_path = str(link_path)

    link, _service, store = terminal(Linked, backoff=Backoff())       # the production retry delays
    wait_for(lambda: link.panel.connected)
    first.close()                                                  # cable pulled
    wait_for(lambda: not link.panel.connected)
    link_path.unlink()                                             # the device node is gone, as udev does
    outage = threading.Event()
    outage.wait(3.0)                                               # out long enough for the backoff to reach its cap
    with PanelSimulator() as second:
        link_path.symlink_to(second.device_path)                   # cable back in
        started = time.monotonic()
        assert frames(second, lambda f: f == ("A",), timeout_s=2.0)   # relit within 2 s
        assert time.monotonic() - started < 2.0
        second.press(1)
        frames(second, lambda f: f == ("L", 1))
    assert store.count_ratings() == 1
    kinds = [e["kind"] for e in (*store.events_of(EventKind.PANEL_DISCONNECTED),
                                 *store.events_of(EventKind.PANEL_CONNECTED))]
    assert kinds.count("panel_connected") == 2 and kinds.count("panel_disconnected") >= 1
    assert link.panel.status().counters.reconnects >= 1



def test_a_reconnected_panel_is_relit_by_the_link_not_by_the_services_news(make_settings, monkeypatch):
    """The link lights a panel that comes (back) up from the view it reads itself. To show that no published
    view does it, the service's `record` is replaced by one that stores the event without publishing (a
    stand-in for the real method, which publishes: the only fake here), and views published are counted."""
    with PanelSimulator() as sim:
        settings = make_settings(**merge({"panel": {"port": sim.device_path, "ping_interval_s": None}}, FAST))
        store = RatingStore(settings.store.path, Identity("d", "u", "c"))
        service = RatingService(settings, store, ThreadScheduler())
        monkeypatch.setattr(service, "record", lambda kind, **detail: store.record_event(kind, **detail))
        link = PanelLink(settings, service, backoff=Backoff(initial=0.05, cap=0.5))
        service.start()
        published: list = []
        service.add_view_listener(published.append)
        link.start()
        try:
            assert frames(sim, lambda f: f == ("A",)) == [("A",)]     # lit on connecting
            wait_for(lambda: len(store.events_of(EventKind.PANEL_CONNECTED)) == 1)
            link.panel.reconnect()                                    # as the technician's button does
            assert frames(sim, lambda f: f == ("A",)) == [("A",)]     # the dark panel is told again
            wait_for(lambda: len(store.events_of(EventKind.PANEL_CONNECTED)) == 2)
            assert store.events_of(EventKind.PANEL_DISCONNECTED)      # the events are still recorded
            assert published == []
            assert link.panel.status().counters.reconnects == 1
        finally:
            link.stop()
            service.stop()
            store.close()


ITEM = "11010100000000001"


def wire_fields(row: dict, *, with_item_code: bool = True) -> dict:
    """A stored rating's hashed fields as a record carries them; without the item_code key at all, as every
    release before the column hashed a rating."""
    fields = {name: row[name] for name in HASHED_FIELDS if with_item_code or name != "item_code"}
    return {**fields, "clock_suspect": bool(row["clock_suspect"])}


def test_a_case_with_its_item_code_is_stored_with_the_rating_and_hashed(terminal):
    with PanelSimulator() as sim, PanelSimulator() as counter:
        _link, _service, store = terminal(sim, counter, mode="solicited")
        counter.send_raw(f"C case-1 S01 {ITEM}\n".encode())      # as the counter PC writes it
        frames(sim, lambda f: f == ("A",))
        sim.press(2)
        frames(sim, lambda f: f == ("L", 2))
        rated = store.recent_ratings(1)[0]
        assert (rated["case_no"], rated["staff_id"], rated["item_code"]) == ("case-1", "S01", ITEM)
        assert rating_hash(wire_fields(rated)) == rated["hash"]
        assert rating_hash(wire_fields(rated, with_item_code=False)) != rated["hash"]   # the code is covered

        counter.send_raw(b"C case-2 S01\n")                        # no item code: a frame as before
        frames(sim, lambda f: f == ("A",))
        sim.press(1)
        frames(sim, lambda f: f == ("L", 1))
        plain = store.recent_ratings(1)[0]
        assert (plain["case_no"], plain["item_code"]) == ("case-2", None)
        assert rating_hash(wire_fields(plain, with_item_code=False)) == plain["hash"]   # the hash it always had
        assert store.verify().ok and store.verify().checked == 2
        [with_code, without] = store.events_of(EventKind.SOLICITED)
        assert (with_code["detail"]["item_code"], without["detail"]["item_code"]) == (ITEM, None)


def test_an_unrated_case_keeps_its_item_code_in_the_event(terminal):
    with PanelSimulator() as sim, PanelSimulator() as counter:
        _link, _service, store = terminal(sim, counter, mode="solicited")
        counter.send_raw(f"C case-3 - {ITEM}\n".encode())          # '-': no staff, but an item code
        frames(sim, lambda f: f == ("A",))
        counter.send_raw(b"C case-4 S01\n")                        # the next service: case-3 went unrated
        wait_for(lambda: len(store.events_of(EventKind.UNRATED)) == 1)
        [unrated] = store.events_of(EventKind.UNRATED)
        assert unrated["detail"] == {"case_no": "case-3", "item_code": ITEM, "staff_id": None, "source": "counter"}
        assert store.count_ratings() == 0
