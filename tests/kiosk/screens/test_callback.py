"""Call-back with consent, without a window: the form, the store table, the purge and the service step.

Storage is a real SQLite file; wall-clock time (retention) is the store's injected clock and timer time
is virtual (tests/kiosk/virtual_time.py), so seven days pass in a test without waiting.
"""
from __future__ import annotations

import logging
import re
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from contract import GENESIS_HASH, PHONE_PATTERN, iso_utc, rating_hash
from evaluator.terminal import technician_mode
from kiosk.config import Locale, Settings
from kiosk.rating.service import CallbackOutcome, RatingService, State
from kiosk.screens.callback_form import CallbackForm, Message, check_phone, grouped
from kiosk.store import SCHEMA_HEAD, Identity, RatingStore
from kiosk.store.callbacks import CallbackQueue
from kiosk.store.export import export_csv
from kiosk.store.schema import _alembic_config
from kiosk.store.tables import Channel, EventKind
from tests.kiosk.virtual_time import VirtualTime

PHONE = "13812345678"
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


class Clock:
    """The store's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed_store(settings: Settings, clock: Clock):
    opened = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id),
                         clock=clock)
    yield opened
    opened.close()


def file_bytes(settings: Settings) -> bytes:
    path = settings.store.path
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


# -- the number -------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", ["13812345678", "19912345678", "01065123456", "02187654321", "057187654321",
                                    "07553456789"])
def test_mobiles_and_landlines_with_area_code_are_accepted(digits):
    assert check_phone(digits) is None


@pytest.mark.parametrize("digits, problem", [
    ("", Message.EMPTY),
    ("1381234567", Message.MOBILE_LENGTH),        # 10 digits
    ("138123456789", Message.MOBILE_LENGTH),      # 12 digits
    ("12812345678", Message.MOBILE_PREFIX),       # no 12x mobiles
    ("65123456", Message.NOT_A_PHONE),            # a landline without its area code
    ("0106512345", Message.LANDLINE),             # area code, local number too short
    ("01001234567", Message.LANDLINE),            # a local number cannot start with 0
    ("１３８１２３４５６７８", Message.NOT_A_PHONE),  # full-width digits are not ASCII digits
])
def test_a_wrong_number_is_refused_with_what_is_wrong(digits, problem):
    assert check_phone(digits) is problem


def test_errors_name_the_problem_in_both_languages():
    form = CallbackForm(Settings().citizen.callback)
    form.toggle_consent()
    for key in "1381234567":
        form.key(key)
    assert form.submit() is None
    assert "11" in form.model(Locale.ZH).message and "10" in form.model(Locale.EN).message
    assert form.model(Locale.EN).error


def test_the_number_is_grouped_as_people_read_it():
    assert grouped("13812345678") == "138 1234 5678"
    assert grouped("01065123456") == "010 6512 3456"
    assert grouped("057187654321") == "0571 8765 4321"


def test_without_the_tick_the_number_is_not_even_judged():
    form = CallbackForm(Settings().citizen.callback)
    for key in PHONE:
        form.key(key)
    assert form.submit() is None and form.message is Message.NO_CONSENT
    form.toggle_consent()
    assert form.submit() == PHONE
    form.reset()
    assert form.blank and form.model(Locale.ZH).number == ""


def test_the_consent_text_names_the_retention_and_its_version_follows_the_text():
    default = Settings().citizen.callback
    assert "7 天" in default.consent(Locale.ZH) and "7 days" in default.consent(Locale.EN)
    changed = Settings.model_validate({"citizen": {"callback": {"retention_days": 3}}}).citizen.callback
    assert "3 天" in changed.consent(Locale.ZH)
    assert changed.consent_version != default.consent_version and len(default.consent_version) == 16


def test_a_consent_text_too_short_to_say_anything_is_a_config_error():
    with pytest.raises(ValueError, match="consent_zh"):
        Settings.model_validate({"citizen": {"callback": {"consent_zh": "同意"}}})


# -- the table ----------------------------------------------------------------------------------


def test_a_request_is_stored_apart_from_its_rating_with_an_event_that_omits_the_number(timed_store):
    rating = timed_store.append_rating(1, Channel.TOUCH, "open")
    queue = CallbackQueue(timed_store)
    row_id = queue.add(rating.uuid, PHONE, "0123456789abcdef")
    [pending] = queue.pending(10)
    assert (pending.id, pending.rating_uuid, pending.phone) == (row_id, rating.uuid, PHONE)
    assert PHONE not in repr(pending)
    [event] = timed_store.events_of(EventKind.CALLBACK_REQUESTED)
    assert event["detail"] == {"callback_id": row_id, "rating_uuid": rating.uuid,
                               "consent_version": "0123456789abcdef"}
    assert timed_store.recent_ratings(1)[0]["hash"] == rating.hash        # the rating is untouched
    with pytest.raises(ValueError):
        queue.add(rating.uuid, "12345", "0123456789abcdef")
    with pytest.raises(Exception):  # noqa: B017  (FOREIGN KEY: only a stored rating; whichever layer says so)
        queue.add("00000000-0000-4000-8000-000000000000", PHONE, "0123456789abcdef")
    assert queue.count() == 1


def test_delivered_requests_are_erased_from_the_file_too(settings, timed_store):
    rating = timed_store.append_rating(2, Channel.TOUCH, "open")
    queue = CallbackQueue(timed_store)
    first = queue.add(rating.uuid, PHONE, "0123456789abcdef")
    second = queue.add(rating.uuid, "01065123456", "0123456789abcdef")
    timed_store.checkpoint()
    assert PHONE.encode() in file_bytes(settings)
    assert queue.delivered([first]) == 1
    assert [p.id for p in queue.pending(10)] == [second]
    assert PHONE.encode() not in file_bytes(settings)                    # secure_delete + WAL checkpoint
    assert b"01065123456" in file_bytes(settings)
    [event] = timed_store.events_of(EventKind.CALLBACK_DELIVERED)
    assert event["detail"]["callback_id"] == first and PHONE not in str(event)


def test_the_sweep_erases_unsent_requests_after_the_retention_and_records_the_drop(make_settings, clock):
    settings = make_settings(citizen={"callback": {"retention_days": 7, "purge_interval_s": 600}})
    store = RatingStore(settings.store.path, Identity("d", "u", "c"), clock=clock)
    timers = VirtualTime()
    service = RatingService(settings, store, timers, monotonic=timers.monotonic)
    try:
        service.start()
        queue = CallbackQueue(store)
        old = queue.add(store.append_rating(1, Channel.TOUCH, "open").uuid, PHONE, "0123456789abcdef")
        clock.now = START + timedelta(days=3)
        recent = queue.add(store.append_rating(2, Channel.TOUCH, "open").uuid, "13900000000", "0123456789abcdef")
        clock.now = START + timedelta(days=7, minutes=5)
        timers.advance(600)                                 # the next sweep
        assert [p.id for p in queue.pending(10)] == [recent]
        [dropped] = store.events_of(EventKind.CALLBACK_DROPPED)
        assert dropped["detail"]["callback_id"] == old and dropped["detail"]["retention_days"] == 7
        assert PHONE not in str(dropped) and PHONE.encode() not in file_bytes(settings)
        clock.now = START + timedelta(days=10, minutes=1)
        timers.advance(600)
        assert queue.count() == 0 and len(store.events_of(EventKind.CALLBACK_DROPPED)) == 2
        assert store.count_ratings() == 2                  # purging numbers never touches a rating
    finally:
        service.stop()
        store.close()


def test_a_store_at_0003_migrates_keeping_every_rating(settings):
    path = settings.store.path
    engine = create_engine(f"sqlite:///{path}")
    config = _alembic_config()
    with engine.begin() as conn:                            # the schema the previous release left
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    engine.dispose()
    with sqlite3.connect(path) as raw:
        prev = GENESIS_HASH
        for seq in range(1, 6):
            row = {"uuid": f"00000000-0000-4000-8000-00000000000{seq}", "seq": seq, "device_id": "d",
                   "unit_id": "u", "counter_id": "c", "staff_id": None, "case_no": None, "level": seq,
                   "channel": "touch", "mode": "open", "recorded_at": iso_utc(START), "mono_ns": seq,
                   "boot_id": "b", "clock_suspect": False, "app_version": "0.1", "prev_hash": prev}
            row["hash"] = prev = rating_hash(row)
            # The columns that schema has (no item_code: migration 0005 adds it).
            raw.execute(f"INSERT INTO ratings ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})", row)
        assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'callback_requests'").fetchone() is None
    store = RatingStore(path, Identity("d", "u", "c"))
    try:
        assert store.count_ratings() == 5 and store.verify().ok and store.verify().checked == 5
        assert CallbackQueue(store).add("00000000-0000-4000-8000-000000000001", PHONE, "0123456789abcdef")
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (SCHEMA_HEAD,)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("DELETE FROM ratings")               # the ratings' triggers are still there


# -- the service step ---------------------------------------------------------------------------


def bad_review_at_callback(settings: Settings, store: RatingStore) -> tuple[RatingService, VirtualTime]:
    timers = VirtualTime()
    service = RatingService(settings, store, timers, monotonic=timers.monotonic)
    service.start()
    service.press(1, Channel.TOUCH)
    service.toggle_reason("attitude")
    service.open_callback()
    assert service.view.state is State.CALLBACK
    return service, timers


def test_the_step_keeps_the_reasons_and_refuses_without_consent(settings, store):
    service, _timers = bad_review_at_callback(settings, store)
    rating = service.view.rating
    version = settings.citizen.callback.consent_version
    assert store.reasons_for(rating.uuid) == ["attitude"]
    assert service.submit_callback(PHONE, consented=False, consent_version=version) is CallbackOutcome.NO_CONSENT
    assert service.submit_callback("123", consented=True, consent_version=version) is CallbackOutcome.INVALID
    assert CallbackQueue(store).count() == 0 and service.view.state is State.CALLBACK
    assert service.submit_callback(PHONE, consented=True, consent_version=version) is CallbackOutcome.STORED
    assert service.view.state is State.THANKS and service.view.callback_left
    [pending] = CallbackQueue(store).pending(5)
    assert pending.rating_uuid == rating.uuid and pending.consent_version == version


def test_the_step_times_out_to_the_normal_screen_without_storing(settings, store):
    service, timers = bad_review_at_callback(settings, store)
    timeout = settings.timings.reason_timeout_s
    timers.advance(timeout - 1)
    service.callback_activity()                         # a tap: the timeout counts from here
    timers.advance(timeout - 1)
    assert service.view.state is State.CALLBACK
    timers.advance(1.5)
    assert service.view.state is State.AWAITING
    assert service.submit_callback(PHONE, True, "0123456789abcdef") is CallbackOutcome.NOT_OPEN
    assert CallbackQueue(store).count() == 0


def test_no_call_back_is_offered_when_disabled(make_settings, store):
    settings = make_settings(citizen={"callback": {"enabled": False}})
    service = RatingService(settings, store, VirtualTime())
    service.start()
    service.press(2, Channel.TOUCH)
    service.open_callback()
    assert service.view.state is State.REASONS


def test_the_number_appears_in_no_event_log_export_or_technician_screen(settings, store, usb_stick, caplog):
    caplog.set_level(logging.DEBUG)
    service, _timers = bad_review_at_callback(settings, store)
    service.submit_callback(PHONE, True, settings.citizen.callback.consent_version)
    with sqlite3.connect(settings.store.path) as raw:
        assert not raw.execute("SELECT count(*) FROM events WHERE detail LIKE ?", (f"%{PHONE}%",)).fetchone()[0]
    out = usb_stick / "export.csv"
    export_csv(store, settings, date(2000, 1, 1), date(2100, 1, 1), out)
    assert out.read_text(encoding="utf-8-sig").count("\n") >= 2 and PHONE not in out.read_text(encoding="utf-8-sig")
    technician = technician_mode(settings, store, None, restart=lambda: None)
    for locale in Locale:
        assert PHONE not in repr(technician.model(locale))
    assert PHONE not in caplog.text


@given(st.text(alphabet="0123456789", max_size=13))
def test_the_form_and_the_wire_pattern_agree_on_every_digit_string(digits):
    assert (check_phone(digits) is None) == bool(re.fullmatch(PHONE_PATTERN, digits))
