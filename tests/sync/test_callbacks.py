"""Call-back requests from the terminal's store to a real collector process, and erased once it holds them."""
from __future__ import annotations

import requests
from sqlalchemy import create_engine, select

from kiosk.app import open_store
from kiosk.callback_queue import CallbackQueue
from kiosk.models import Channel, EventKind
from kiosk.outbox import Outbox
from kiosk.service import CallbackOutcome, RatingService, State
from sync.client import CentreClient, Credentials
from sync.collector.db import callbacks, ratings
from sync.uploader import Uploader
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


def test_the_running_collector_documents_the_endpoint(collector):
    document = requests.get(collector.url + "/openapi.json", timeout=10).json()
    operation = document["paths"]["/v1/callbacks"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CallbackBatch")
    assert "phone" in document["components"]["schemas"]["CallbackRecord"]["properties"]
