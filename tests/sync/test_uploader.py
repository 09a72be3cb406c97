"""The uploader's own parts against a real collector: the gzip body built in two steps, and a drain stopped by its
progress callback, which leaves no acknowledged rating pending."""
from __future__ import annotations

import gzip
import sqlite3

import pytest

from evaluator.terminal import open_store
from kiosk.store.outbox import Outbox
from sync.client import CentreClient, Credentials, GzipBody
from sync.uploader import Uploader
from tests.sync.conftest import fill, provisioned


def test_a_body_gzipped_ahead_and_finished_later_is_one_gzip_stream():
    head, tail = b'{"ratings":[' + b'{"level":5},' * 2000, b'{"level":1}],"sent_at":"now"}'
    body = GzipBody(head).finish(tail)
    assert gzip.decompress(body) == head + tail
    assert len(body) < len(head) // 20                          # compressed, not stored


class Stop(Exception):
    pass


def test_a_drain_stopped_from_progress_applies_every_ack_it_received(collector, terminal_config):
    settings = provisioned(collector, terminal_config())
    fill(settings, 700)
    store = open_store(settings)
    credentials = Credentials.load(settings.sync.state_dir)
    client = CentreClient(credentials.server, credentials)
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) == 2:
            raise Stop

    try:
        with pytest.raises(Stop):
            Uploader(Outbox(store), client, credentials.device_id, batch_size=100).drain(progress=progress)
        pending = Outbox(store).depth().ratings
    finally:
        client.close()
        store.close()
    assert calls == [(100, 700), (200, 700)]
    with sqlite3.connect(settings.store.path) as raw:
        synced = [seq for (seq,) in raw.execute("SELECT seq FROM ratings WHERE sync_state = 'synced' ORDER BY seq")]
    integrity = {d["device_id"]: d for d in collector.json("integrity")["devices"]}[settings.device.id]
    # The third batch may have been acknowledged before the callback stopped the drain: then it is marked too.
    assert synced == list(range(1, len(synced) + 1)) and len(synced) in (200, 300)
    assert integrity["ratings_held"] == integrity["last_seq"] == len(synced) and pending == 700 - len(synced)
    assert integrity["gaps"] == [] and integrity["chain_breaks"] == []


@pytest.mark.parametrize("no_proxy", ["", "collector.invalid"])
def test_the_client_goes_through_the_proxy_the_environment_names_when_it_is_made(monkeypatch, no_proxy):
    """The proxy variables are read once, at construction (not at every request), and still honoured."""
    import socket
    import threading

    from sync.client import TransientError

    seen: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(5)

        def proxy() -> None:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                seen.append(conn.recv(4096).split(b"\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        thread = threading.Thread(target=proxy, daemon=True)
        thread.start()
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.setenv("NO_PROXY", no_proxy)
        server = "http://collector.invalid:8080"
        client = CentreClient(server, Credentials(server, "d", "s"), 2, 2)
        monkeypatch.delenv("HTTP_PROXY")          # read at construction: a later change does not matter
        with pytest.raises(TransientError):
            client.ingest_gzipped(gzip.compress(b"{}"))
        client.close()
        if no_proxy:
            listener.close()
        thread.join(5)
    assert seen == ([] if no_proxy else [b"POST http://collector.invalid:8080/v1/ingest HTTP/1.1"])
