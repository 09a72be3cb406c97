"""The rating-session state machine on a real SQLite store (time is virtual; see virtual_time.py)."""
from __future__ import annotations

import sqlite3
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kiosk.config import Mode, Settings
from kiosk.rating.service import PressOutcome, RatingService, State, ThreadScheduler, View
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import Channel, EventKind
from tests.kiosk.virtual_time import VirtualTime


def make_service(settings: Settings, store: RatingStore) -> tuple[RatingService, VirtualTime]:
    clock = VirtualTime()
    service = RatingService(settings, store, clock, monotonic=clock.monotonic)
    service.start()
    return service, clock


def suppressed_reasons(store: RatingStore) -> list[str]:
    return [event["detail"]["why"] for event in store.events_of(EventKind.SUPPRESSED)]


def test_open_mode_counts_a_press_then_thanks_then_cooldown(settings, store):
    service, clock = make_service(settings, store)
    assert service.view.state is State.AWAITING and service.view.accepting

    assert service.press(4, Channel.TOUCH) is PressOutcome.COUNTED
    assert service.view.state is State.THANKS
    assert store.recent_ratings(1)[0]["level"] == 4

    assert service.press(5, Channel.TOUCH) is PressOutcome.SUPPRESSED   # same citizen, thanks still up
    clock.advance(settings.timings.thanks_s)
    assert service.view.state is State.AWAITING and not service.view.accepting
    assert service.press(5, Channel.PANEL) is PressOutcome.SUPPRESSED   # still inside the cooldown
    clock.advance(settings.timings.cooldown_s - settings.timings.thanks_s)
    assert service.view.accepting
    assert service.press(5, Channel.KEYBOARD) is PressOutcome.COUNTED

    assert store.count_ratings() == 2
    assert suppressed_reasons(store) == ["already_rated", "cooldown"]


def test_solicited_mode_counts_exactly_one_press_per_request(make_settings, store):
    settings = make_settings(mode="solicited", staff=[{"id": "E1", "name": "张三"}])
    service, clock = make_service(settings, store)
    assert service.view.state is State.IDLE
    assert service.press(5, Channel.PANEL) is PressOutcome.SUPPRESSED

    service.solicit(case_no="2026A-0042", staff_id="E1", source="counter")
    assert service.view.state is State.AWAITING
    assert service.press(3, Channel.PANEL) is PressOutcome.COUNTED
    assert service.press(3, Channel.PANEL) is PressOutcome.SUPPRESSED
    clock.advance(settings.timings.thanks_s)
    assert service.view.state is State.IDLE
    assert service.press(3, Channel.PANEL) is PressOutcome.SUPPRESSED

    row = store.recent_ratings(1)[0]
    assert (row["case_no"], row["staff_id"], row["mode"], row["channel"]) == ("2026A-0042", "E1", "solicited", "panel")
    assert store.count_ratings() == 1
    assert suppressed_reasons(store) == ["not_requested", "already_rated", "not_requested"]


def test_unanswered_request_is_recorded_unrated_never_as_a_rating(make_settings, store):
    settings = make_settings(mode="solicited")
    service, clock = make_service(settings, store)
    service.solicit(case_no="A-1")
    clock.advance(settings.timings.solicit_window_s - 0.01)
    assert service.view.state is State.AWAITING
    clock.advance(0.02)
    assert service.view.state is State.IDLE
    assert store.count_ratings() == 0
    assert [e["detail"]["case_no"] for e in store.events_of(EventKind.UNRATED)] == ["A-1"]


def test_an_unrated_request_is_credited_like_its_rating_would_be(make_settings, store):
    settings = make_settings(mode="solicited", staff=[{"id": "E7", "name": "李明"}, {"id": "E8", "name": "王芳"}])
    service, clock = make_service(settings, store)
    service.sign_in("E7")
    service.solicit()                                  # the staff key: the signed-in member's service
    clock.advance(settings.timings.solicit_window_s)
    service.solicit(case_no="A-2", staff_id="E8")      # the counter PC names the staff of the case
    clock.advance(settings.timings.solicit_window_s)
    assert [e["detail"]["staff_id"] for e in store.events_of(EventKind.UNRATED)] == ["E7", "E8"]


def test_a_new_request_closes_the_unanswered_one_as_unrated(make_settings, store):
    service, _clock = make_service(make_settings(mode="solicited"), store)
    service.solicit(case_no="A-1")
    service.solicit(case_no="A-2")
    assert service.press(5, Channel.TOUCH) is PressOutcome.COUNTED
    assert store.recent_ratings(1)[0]["case_no"] == "A-2"
    assert [e["detail"]["case_no"] for e in store.events_of(EventKind.UNRATED)] == ["A-1"]


def test_open_mode_request_lifts_the_cooldown_for_the_next_citizen(settings, store):
    service, clock = make_service(settings, store)
    service.press(5, Channel.TOUCH)
    clock.advance(settings.timings.thanks_s)
    assert not service.view.accepting
    service.solicit(case_no="B-7")
    assert service.press(4, Channel.TOUCH) is PressOutcome.COUNTED


def test_bad_review_is_stored_at_the_press_and_reasons_appended(settings, store):
    service, clock = make_service(settings, store)
    assert service.press(1, Channel.TOUCH) is PressOutcome.COUNTED
    assert service.view.state is State.REASONS
    rating = service.view.rating
    assert store.recent_ratings(1)[0]["uuid"] == rating.uuid   # stored before any reason is picked

    service.toggle_reason("slow")
    service.toggle_reason("wait")
    service.toggle_reason("slow")
    assert service.view.selected_reasons == {"wait"}
    with pytest.raises(ValueError, match="unknown reason code"):
        service.toggle_reason("nonsense")
    service.submit_reasons()
    assert service.view.state is State.THANKS
    assert store.reasons_for(rating.uuid) == ["wait"]
    clock.advance(settings.timings.thanks_s)
    assert service.view.state is State.AWAITING


def test_reason_step_times_out_keeping_what_was_ticked(settings, store):
    service, clock = make_service(settings, store)
    service.press(2, Channel.TOUCH)
    uuid = service.view.rating.uuid
    service.toggle_reason("attitude")
    clock.advance(settings.timings.reason_timeout_s)
    assert service.view.state is State.THANKS
    assert store.reasons_for(uuid) == ["attitude"]
    assert store.events_of(EventKind.REASONS_TIMEOUT)[0]["detail"] == {"rating_uuid": uuid, "kept": 1}


def test_skipping_reasons_stores_none(settings, store):
    service, _clock = make_service(settings, store)
    service.press(1, Channel.TOUCH)
    uuid = service.view.rating.uuid
    service.toggle_reason("attitude")
    service.skip_reasons()
    assert store.reasons_for(uuid) == []
    assert store.count_ratings() == 1


def test_listeners_hear_of_a_rating_only_once_it_is_on_disk(settings, store):
    service, _clock = make_service(settings, store)
    seen: list[tuple[str, int]] = []

    def on_rating(rating):
        # A second, independent connection: the row must already be committed.
        with sqlite3.connect(store.path) as other:
            seen.append(other.execute("SELECT uuid, level FROM ratings WHERE uuid = ?", (rating.uuid,)).fetchone())

    service.add_rating_listener(on_rating)
    service.press(5, Channel.PANEL)
    assert seen == [(service.view.rating.uuid, 5)]


def test_a_failing_listener_does_not_undo_or_block_the_rating(settings, store):
    service, _clock = make_service(settings, store)
    service.add_view_listener(lambda view: 1 / 0)
    assert service.press(5, Channel.TOUCH) is PressOutcome.COUNTED
    assert store.count_ratings() == 1


def test_full_storage_goes_out_of_service_and_recovers_by_itself(settings, store):
    """SQLite's own size cap (max_page_count) gives the same SQLITE_FULL a full disk gives."""
    service, clock = make_service(settings, store)
    acknowledged: list[str] = []
    service.add_rating_listener(lambda rating: acknowledged.append(rating.uuid))
    store.pragma(f"max_page_count = {store.pragma('page_count')}")

    outcome = None
    for _ in range(500):
        outcome = service.press(5, Channel.TOUCH)
        if outcome is not PressOutcome.COUNTED:
            break
        clock.advance(settings.timings.cooldown_s)
    assert outcome is PressOutcome.OUT_OF_SERVICE
    assert service.view.state is State.OUT_OF_SERVICE
    assert "full" in service.view.error
    assert service.press(4, Channel.TOUCH) is PressOutcome.OUT_OF_SERVICE
    assert not service.solicit(case_no="X-1")
    # Every acknowledged rating is stored; the refused press is not.
    assert sorted(acknowledged) == sorted(row["uuid"] for row in store.recent_ratings(1000))

    clock.advance(settings.timings.storage_retry_s)   # still full: stays out of service
    assert service.view.state is State.OUT_OF_SERVICE
    store.pragma("max_page_count = 1073741823")
    clock.advance(settings.timings.storage_retry_s)
    assert service.view.state is State.AWAITING
    assert len(store.events_of(EventKind.STORAGE_FAILED)) == 1
    assert len(store.events_of(EventKind.STORAGE_RECOVERED)) == 1
    assert service.press(3, Channel.TOUCH) is PressOutcome.COUNTED
    assert store.verify().ok


def test_real_thread_timers_close_the_window(make_settings, store):
    settings = make_settings(mode="solicited", timings={"solicit_window_s": 0.2})
    service = RatingService(settings, store, ThreadScheduler())
    service.start()
    back_to_idle = threading.Event()
    service.add_view_listener(lambda view: view.state is State.IDLE and back_to_idle.set())
    service.solicit(case_no="T-1")
    assert back_to_idle.wait(timeout=5)
    assert len(store.events_of(EventKind.UNRATED)) == 1


def test_staff_sign_in_and_out_are_recorded_and_tag_ratings(settings, store):
    service, clock = make_service(settings, store)
    service.sign_in("E7")
    service.press(5, Channel.TOUCH)
    clock.advance(settings.timings.cooldown_s)
    service.sign_out()
    service.press(4, Channel.TOUCH)
    rows = store.recent_ratings(2)
    assert [row["staff_id"] for row in rows] == [None, "E7"]
    assert [e["kind"] for e in store.events_of(EventKind.STAFF_SIGN_IN) + store.events_of(EventKind.STAFF_SIGN_OUT)] \
        == ["staff_sign_in", "staff_sign_out"]


# -- random sequences ----------------------------------------------------------------

actions = st.one_of(
    st.tuples(st.just("press"), st.integers(1, 5), st.sampled_from(list(Channel))),
    st.tuples(st.just("solicit")),
    st.tuples(st.just("wait"), st.sampled_from([0.0, 0.5, 2.9, 3.0, 5.0, 15.0, 31.0])),
    st.tuples(st.just("reason"), st.sampled_from(["attitude", "slow", "wait"])),
    st.tuples(st.just("submit")),
    st.tuples(st.just("skip")),
    st.tuples(st.just("storage_fails")),  # another process locks the file: every write fails
    st.tuples(st.just("storage_works")),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(list(Mode)), script=st.lists(actions, max_size=40))
@example(mode=Mode.SOLICITED, script=[("solicit",), ("storage_fails",), ("press", 3, Channel.TOUCH)])
def test_no_press_counts_twice_and_every_counted_press_is_stored(make_settings, mode, script):
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(mode=mode.value, store={"path": str(Path(tmp) / "e.db")})
        # A short busy timeout: a locked file fails a write in 10 ms instead of 5 s.
        store = RatingStore(settings.store.path, Identity("d", "u", "c"), busy_timeout_ms=10)
        try:
            _run_script(settings, store, script)
        finally:
            store.close()


def _run_script(settings: Settings, store: RatingStore, script: list[tuple]) -> None:
    service, clock = make_service(settings, store)
    counted: list[tuple[float, str | None]] = []    # (time, case_no) of each counted press
    solicited: list[str] = []
    blocker: sqlite3.Connection | None = None
    for step in script:
        kind = step[0]
        if kind == "press":
            view: View = service.view
            outcome = service.press(step[1], step[2])
            if outcome is PressOutcome.COUNTED:
                assert view.accepting
                counted.append((clock.now, view.request.case_no if view.request else None))
            else:
                assert not view.accepting or (blocker and outcome is PressOutcome.OUT_OF_SERVICE)
        elif kind == "solicit":
            if service.solicit(case_no=f"case-{len(solicited)}"):
                solicited.append(f"case-{len(solicited)}")
        elif kind == "storage_fails" and blocker is None:
            blocker = sqlite3.connect(settings.store.path, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
        elif kind == "storage_works" and blocker is not None:
            blocker.close()
            blocker = None
        elif kind == "wait":
            clock.advance(step[1])
        elif kind == "reason" and service.view.state is State.REASONS:
            service.toggle_reason(step[1])
        elif kind == "submit":
            service.submit_reasons()
        elif kind == "skip":
            service.skip_reasons()
    if blocker is not None:
        blocker.close()
    clock.advance(settings.timings.storage_retry_s)                  # back in service: outages recorded
    assert service.view.state is not State.OUT_OF_SERVICE

    rows = list(reversed(store.recent_ratings(10_000)))
    assert len(rows) == len(counted)                                 # every counted press is stored, once
    assert [row["case_no"] for row in rows] == [case for _t, case in counted]
    assert store.verify().ok and store.verify().checked == len(rows)
    cases = [case for _t, case in counted if case is not None]
    assert len(cases) == len(set(cases))                             # 一次一评: one rating per request
    unrated = {event["detail"]["case_no"] for event in store.events_of(EventKind.UNRATED)}
    open_case = service.view.request.case_no if service.view.request else None
    for case in solicited:                                           # each request ends exactly one way
        assert [case in cases, case in unrated, case == open_case].count(True) == 1, case
    if settings.mode is Mode.OPEN:                                   # cooldown between uninvited ratings
        uninvited = [t for t, case in counted if case is None]
        assert all(b - a >= settings.timings.cooldown_s for a, b in zip(uninvited, uninvited[1:]))


def test_start_records_mode_and_config_changes(make_settings, store):
    make_service(make_settings(), store)
    assert store.events_of(EventKind.MODE_CHANGED) == [] and store.events_of(EventKind.CONFIG_CHANGED) == []
    make_service(make_settings(), store)                        # same config again: nothing changed
    assert store.events_of(EventKind.CONFIG_CHANGED) == []
    make_service(make_settings(mode="solicited"), store)
    assert [e["detail"] for e in store.events_of(EventKind.MODE_CHANGED)] == [
        {"previous": "open", "current": "solicited"}]
    assert len(store.events_of(EventKind.CONFIG_CHANGED)) == 1
    assert len(store.events_of(EventKind.STARTED)) == 3


def test_without_a_screen_a_bad_review_skips_the_reason_step(settings, store):
    clock = VirtualTime()
    service = RatingService(settings, store, clock, monotonic=clock.monotonic, ask_reasons=False)
    service.start()
    assert service.press(1, Channel.PANEL) is PressOutcome.COUNTED
    assert service.view.state is State.THANKS


class _CreepingTime(VirtualTime):
    """Time that moves on while the service runs: every reading of the clock costs `step_s`."""

    def __init__(self, step_s: float) -> None:
        super().__init__()
        self.step_s = step_s

    def monotonic(self) -> float:
        self.now += self.step_s
        return self.now


class _EarlyTimers(VirtualTime):
    """Timers on another clock than the service's (Kivy's Clock): a long one fires `early_s` before its time."""

    def __init__(self, early_s: float) -> None:
        super().__init__()
        self.early_s = early_s

    def call_later(self, delay_s: float, callback):
        return super().call_later(delay_s - self.early_s if delay_s > self.early_s else delay_s, callback)


@pytest.mark.parametrize("clock", [_CreepingTime(0.001), _EarlyTimers(0.01)], ids=["time-moves-on", "early-timer"])
def test_the_cooldown_always_ends_however_the_clocks_disagree(make_settings, store, clock):
    """Thanks ending right at the cooldown's end once left the terminal refusing every press for good."""
    settings = make_settings(timings={"thanks_s": 1.0, "cooldown_s": 1.0 + 0.0015})
    service = RatingService(settings, store, clock, monotonic=clock.monotonic)
    service.start()
    for _ in range(20):
        assert service.press(5, Channel.TOUCH) is PressOutcome.COUNTED
        clock.advance(3.0)
        assert service.view.state is State.AWAITING and service.view.accepting
    assert store.count_ratings() == 20
