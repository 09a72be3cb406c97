"""Staff and technician sign-in: slow salted hashes, lockout, events, on a real store and a real file."""
from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.rating.access import AccessControl, AccessFile, Outcome, Role, check_secret, hash_secret
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import EventKind
from tests.kiosk.virtual_time import VirtualTime


@pytest.fixture
def access(make_settings, store, tmp_path):
    settings = make_settings(staff=[{"id": "E1023", "name": "李明"}, {"id": "E2000", "name": "王芳"}],
                             access={"max_tries": 5, "lockout_s": 300})
    secrets = AccessFile(tmp_path / "state")
    secrets.set_staff_pin("E1023", "2468")
    secrets.set_staff_pin("E9999", "1111")          # left behind by someone no longer on the roster
    secrets.set_technician_password("97531")
    clock = VirtualTime()
    return AccessControl(settings, store, secrets, monotonic=clock.monotonic), clock, secrets


def test_hashes_are_salted_slow_and_never_the_pin():
    first, second = hash_secret("2468"), hash_secret("2468")
    assert first != second and "2468" not in first and first.startswith("scrypt$16384$")
    assert check_secret("2468", first) and check_secret("2468", second)
    assert not check_secret("2469", first) and not check_secret("2468", "garbage")


def test_the_file_is_private_and_holds_only_hashes(access):
    _control, _clock, secrets = access
    assert stat.S_IMODE(os.stat(secrets.path).st_mode) == 0o600
    text = secrets.path.read_text()
    assert "2468" not in text and "97531" not in text and "scrypt$" in text


def test_staff_pin_and_technician_password_grant_and_are_recorded(access, store):
    control, _clock, _secrets = access
    assert control.sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.GRANTED
    assert control.sign_in(Role.TECHNICIAN, None, "97531").outcome is Outcome.GRANTED
    assert control.sign_in(Role.STAFF, "E1023", "97531").outcome is Outcome.WRONG
    assert control.sign_in(Role.STAFF, "E2000", "2468").outcome is Outcome.NOT_SET  # no PIN set for E2000
    assert control.sign_in(Role.STAFF, "E9999", "1111").outcome is Outcome.WRONG    # not on this roster
    granted = store.events_of(EventKind.ACCESS_GRANTED)
    assert [(e["detail"]["role"], e["detail"]["user_id"]) for e in granted] == [("staff", "E1023"),
                                                                                ("technician", None)]
    assert len(store.events_of(EventKind.ACCESS_DENIED)) == 2
    assert all("2468" not in str(e["detail"]) for e in store.events_of(EventKind.ACCESS_DENIED))


def test_five_wrong_tries_lock_sign_in_for_five_minutes(access, store):
    control, clock, _secrets = access
    left = [control.sign_in(Role.STAFF, "E1023", "0000").tries_left for _ in range(4)]
    assert left == [4, 3, 2, 1]
    locked = control.sign_in(Role.STAFF, "E1023", "0000")
    assert locked.outcome is Outcome.LOCKED and locked.locked_for_s == 300
    assert control.sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.LOCKED   # even the right PIN
    assert control.sign_in(Role.TECHNICIAN, None, "97531").outcome is Outcome.LOCKED
    clock.advance(299)
    assert control.locked_for() == pytest.approx(1)
    assert control.sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.LOCKED
    clock.advance(1)
    assert control.locked_for() == 0
    assert control.sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.GRANTED
    assert [e["detail"]["seconds"] for e in store.events_of(EventKind.ACCESS_LOCKED)] == [300]


def test_with_no_secret_ever_set_sign_in_says_so_and_spends_no_try(make_settings, store, tmp_path):
    # A new terminal: nobody ran `evaluator set-pin` yet. "Wrong PIN" would send them guessing, and spending
    # the tries shared by everyone would lock out the colleague who does have a PIN.
    settings = make_settings(staff=[{"id": "E1023", "name": "李明"}, {"id": "E2000", "name": "王芳"}],
                             access={"max_tries": 5, "lockout_s": 300})
    secrets = AccessFile(tmp_path / "state")
    control = AccessControl(settings, store, secrets, monotonic=VirtualTime().monotonic)
    for _ in range(6):
        staff = control.sign_in(Role.STAFF, "E1023", "2468")
        technician = control.sign_in(Role.TECHNICIAN, None, "97531")
        assert (staff.outcome, staff.role, staff.user_id) == (Outcome.NOT_SET, Role.STAFF, "E1023")
        assert (technician.outcome, technician.role) == (Outcome.NOT_SET, Role.TECHNICIAN)
    assert control.locked_for() == 0
    assert not any(store.events_of(kind) for kind in (EventKind.ACCESS_DENIED, EventKind.ACCESS_LOCKED))
    secrets.set_staff_pin("E2000", "1357")                 # a colleague sets theirs: the five tries are all there
    assert control.sign_in(Role.STAFF, "E2000", "0000").tries_left == 4
    assert control.sign_in(Role.STAFF, "E1023", "0000").outcome is Outcome.NOT_SET
    assert control.sign_in(Role.STAFF, "E2000", "0000").tries_left == 3


class WallClock:
    """The store's wall clock, moved by hand: the lock's end across a restart is a wall-clock time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def restartable(make_settings, tmp_path):
    """AccessControl as a terminal builds it at each start, on one store file with a hand-moved clock."""
    settings = make_settings(staff=[{"id": "E1023", "name": "李明"}], access={"max_tries": 5, "lockout_s": 300})
    secrets, wall, opened = AccessFile(tmp_path / "state"), WallClock(), []
    secrets.set_staff_pin("E1023", "2468")

    def start() -> AccessControl:
        if opened:
            opened[-1].close()          # the previous run of the terminal is gone
        opened.append(RatingStore(settings.store.path, Identity("d", "u", "c"), clock=wall))
        return AccessControl(settings, opened[-1], secrets, monotonic=VirtualTime().monotonic)

    yield start, wall
    opened[-1].close()


def test_a_restart_does_not_end_a_lock(restartable):
    start, wall = restartable
    control = start()
    for _ in range(5):
        control.sign_in(Role.STAFF, "E1023", "0000")
    assert control.sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.LOCKED
    wall.now += timedelta(seconds=100)
    control = start()                                    # the plug pulled 100 s into the lock
    locked = control.sign_in(Role.STAFF, "E1023", "2468")
    assert locked.outcome is Outcome.LOCKED and locked.locked_for_s == pytest.approx(200)
    wall.now += timedelta(seconds=200)
    assert start().sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.GRANTED


def test_a_restart_keeps_the_count_of_wrong_tries(restartable):
    start, _wall = restartable
    control = start()
    assert [control.sign_in(Role.STAFF, "E1023", "0000").tries_left for _ in range(3)] == [4, 3, 2]
    control = start()
    assert control.sign_in(Role.STAFF, "E1023", "0000").tries_left == 1
    assert start().sign_in(Role.STAFF, "E1023", "0000").outcome is Outcome.LOCKED
    assert start().sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.LOCKED


def test_a_grant_before_the_restart_clears_the_count(restartable):
    start, _wall = restartable
    control = start()
    control.sign_in(Role.STAFF, "E1023", "0000")
    control.sign_in(Role.STAFF, "E1023", "0000")
    assert control.sign_in(Role.STAFF, "E1023", "2468").outcome is Outcome.GRANTED
    assert start().sign_in(Role.STAFF, "E1023", "0000").tries_left == 4


def test_a_clock_set_back_cannot_lengthen_a_lock(restartable):
    start, wall = restartable
    control = start()
    for _ in range(5):
        control.sign_in(Role.STAFF, "E1023", "0000")
    wall.now -= timedelta(days=1)
    assert start().locked_for() == 300


def test_set_pin_stores_only_a_hash_for_a_roster_member(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    config.write_text("staff: [{id: E1023, name: 李明}]\n", encoding="utf-8")

    def set_pin(*args: str, pin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "evaluator.cli", "set-pin", *args, "--config", str(config)],
                              input=pin + "\n", capture_output=True, text=True, timeout=60)

    assert set_pin("--staff", "E1023", pin="2468").returncode == 0
    assert set_pin("--technician", pin="975310").returncode == 0
    refused = [set_pin("--staff", "E404", pin="2468"), set_pin("--staff", "E1023", pin="12"),
               set_pin("--staff", "E1023", pin="12ab")]
    assert [done.returncode for done in refused] == [2, 2, 2]
    secrets = AccessFile(tmp_path / "var" / "sync")
    stored = secrets.load()
    assert check_secret("2468", stored["staff"]["E1023"]) and check_secret("975310", stored["technician"])
    assert "E404" not in stored["staff"] and "2468" not in secrets.path.read_text()
