"""Call-back requests from the terminal's store to a real collector process, and erased once it holds them."""
from __future__ import annotations

import json
import threading
import time

import requests
from sqlalchemy import create_engine, select

from centre.db.tables import callbacks, ratings
from evaluator.terminal import open_store
from kiosk.rating.service import CallbackOutcome, RatingService, State
from kiosk.store.callbacks import CallbackQueue
from kiosk.store.outbox import Outbox
from kiosk.store.tables import Channel, EventKind
from sync.client import CentreClient, Credentials
from sync.uploader import SyncWorker, Uploader
from tests.kiosk.virtual_time import VirtualTime
from tests.sync.conftest import provisioned

PHONE = "13812345678"


def centre_rows(collector) -> list[dict]:
    engine = create_engine(collector.db)
    try:
        with engine.connect() as conn:
            query = select(callbacks.c.device_id, callbacks.c.id, callbacks.c.phone, callbacks.c.rating_uuid,
                           ratings.c.level).join(ratings, ratings.c.uuid == callbacks.c.rating_uuid)
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def drain(settings, store):
    credentials = Credentials.load(settings.sync.state_dir)
    client = CentreClient(credentials.server, credentials, 2, 5)
    try:
        return Uploader(Outbox(store), client, credentials.device_id).drain()
    finally:
        client.close()


def test_a_call_back_reaches_the_centre_joined_to_its_rating_and_is_erased_here(collector, terminal_config):
    settings = provisioned(collector, terminal_config())
    store = open_store(settings)
    timers = VirtualTime()
    service = RatingService(settings, store, timers, monotonic=timers.monotonic)
    try:
        service.start()
        service.press(1, Channel.TOUCH)
        service.toggle_reason("wait")
        service.toggle_reason("attitude")
        service.open_callback()
        assert service.view.state is State.CALLBACK
        rating = service.view.rating
        outcome = service.submit_callback(PHONE, True, settings.citizen.callback.consent_version)
        assert outcome is CallbackOutcome.STORED
        queue = CallbackQueue(store)
        [pending] = queue.pending(5)

        result = drain(settings, store)
        assert result.callbacks_delivered == 1 and not result.callbacks_refused
        assert centre_rows(collector) == [{"device_id": settings.device.id, "id": pending.id, "phone": PHONE,
                                           "rating_uuid": rating.uuid, "level": 1}]
        assert queue.count() == 0                                   # acknowledged: erased on the device
        listed = collector.cli("callbacks", "--unit", "unit-7", "--json")
        assert listed.returncode == 0, listed.stderr
        [request] = json.loads(listed.stdout)
        assert {key: request[key] for key in ("phone", "level", "rating_uuid", "counter_id", "id")} == {
            "phone": PHONE, "level": 1, "rating_uuid": rating.uuid, "counter_id": "c-3", "id": pending.id}
        assert request["reasons"] == ["attitude", "wait"] and request["rated_at"].endswith("+08:00")  # unit's zone
        text = collector.cli("callbacks", "--unit", "unit-7").stdout
        assert "1 call-back request(s)" in text and PHONE in text and rating.uuid in text
        other_day = collector.cli("callbacks", "--unit", "unit-7", "--date", "2020-01-01", "--json")
        assert json.loads(other_day.stdout) == []
        unknown = collector.cli("callbacks", "--unit", "no-such-unit")
        assert unknown.returncode == 2 and "unknown unit" in unknown.stderr
        [delivered] = store.events_of(EventKind.CALLBACK_DELIVERED)
        assert delivered["detail"]["callback_id"] == pending.id

        # The ack was lost, say, and the device sends the same request again: held once, acknowledged.
        credentials = Credentials.load(settings.sync.state_dir)
        client = CentreClient(credentials.server, credentials)
        try:
            again = client.callbacks({"protocol": 1, "device_id": credentials.device_id,
                                      "sent_at": pending.requested_at, "callbacks": [pending.wire()]})
        finally:
            client.close()
        assert again.stored == [pending.id] and len(centre_rows(collector)) == 1
        assert rating.uuid and drain(settings, store).callbacks_delivered == 0
    finally:
        service.stop()
        store.close()


def test_a_call_back_about_a_rating_the_centre_lacks_is_refused_and_kept(collector, terminal_config):
    settings = provisioned(collector, terminal_config())
    store = open_store(settings)
    try:
        rating = store.append_rating(1, Channel.PANEL, "open")
        queue = CallbackQueue(store)
        row_id = queue.add(rating.uuid, "01065123456", settings.citizen.callback.consent_version)
        with store.transaction(write=True) as conn:                  # the rating was refused by the centre
            conn.exec_driver_sql("UPDATE ratings SET sync_state = 'rejected'")
        result = drain(settings, store)
        assert list(result.callbacks_refused) == [f"callback:{row_id}"]
        assert "not held" in result.callbacks_refused[f"callback:{row_id}"]
        assert "01065123456" not in str(result.callbacks_refused)    # refusals never echo the number
        assert [p.id for p in queue.pending(5)] == [row_id]           # kept until the retention ends
        assert centre_rows(collector) == []
    finally:
        store.close()


def test_a_call_back_left_after_its_review_went_is_sent_at_once_and_a_refused_one_does_not_spin(
        collector, terminal_config):
    """The bad review wakes the worker at once; the number is left later, on the form, and must not wait
    for the next interval either. A refused request stays held, and must not wake the worker every poll."""
    settings = provisioned(collector, terminal_config())
    settings = settings.model_copy(update={"sync": settings.sync.model_copy(
        update={"interval_s": 3600.0, "bad_review_poll_s": 0.1})})
    store = open_store(settings)
    queue, stop = CallbackQueue(store), threading.Event()
    worker = SyncWorker(settings, store, stop)
    drains = []
    attempt = worker._attempt
    original = attempt.run

    def counted_run(progress=None):
        drains.append(time.monotonic())
        return original(progress)

    attempt.run = counted_run
    thread = threading.Thread(target=worker.run)
    try:
        orphan = store.append_rating(1, Channel.PANEL, "open")
        with store.transaction(write=True) as conn:                   # a rating the centre will never hold
            conn.exec_driver_sql("UPDATE ratings SET sync_state = 'rejected'")
        refused = queue.add(orphan.uuid, "01065123456", settings.citizen.callback.consent_version)
        thread.start()
        rating = store.append_rating(1, Channel.TOUCH, "open")
        deadline = time.monotonic() + 10
        while Outbox(store).depth().ratings:                          # the bad review went at once
            assert time.monotonic() < deadline, "the bad review was not sent"
            stop.wait(0.05)
        stop.wait(1.0)
        settled = len(drains)
        stop.wait(1.0)                                                 # ten polls: the refused one stays held…
        assert len(drains) == settled and [p.id for p in queue.pending(5)] == [refused]   # …and wakes nobody
        queue.add(rating.uuid, PHONE, settings.citizen.callback.consent_version)
        deadline = time.monotonic() + 5
        while PHONE not in [row["phone"] for row in centre_rows(collector)]:
            assert time.monotonic() < deadline, "the call-back waited for the next interval"
            stop.wait(0.05)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(30)
        store.close()


def test_the_running_collector_documents_the_endpoint(collector):
    document = requests.get(collector.url + "/openapi.json", timeout=10).json()
    operation = document["paths"]["/v1/callbacks"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CallbackBatch")
    assert "phone" in document["components"]["schemas"]["CallbackRecord"]["properties"]
