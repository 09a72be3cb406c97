"""The reference receiver's HTTP server: the standard library's threading server, one POST = one upload.

Any path takes uploads (the signature covers the path the sender used); GET answers a small status
({"records": N, "requests": N}). A request goes: the body's size → the fault script's next step (500: answered
at once, nothing stored) → the signature, its clock window and its nonce (401 otherwise, nothing stored) → the
envelope (400) → each record checked and stored (store.py) → the answer: at once, late (slow:N), never (lost:
the connection closed) or not an answer (garbled). The standard library rather than the centre's FastAPI:
dropping a connection with no answer at all, mid-request, is what the tests need, and a plain socket server
does it plainly.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict

from centre.province.receiver.faults import FaultKind, FaultScript
from centre.province.receiver.store import ReceiverStore
from centre.province.signing import SignatureError, Verifier, verify_request
from centre.province.upload import MalformedRequest, answer_body, read_request

log = logging.getLogger("centre.province.receiver")

MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass
class Receiver:
    """What the server's handlers share."""

    store: ReceiverStore
    verifier: Verifier
    faults: FaultScript = field(default_factory=lambda: FaultScript([]))
    key_id: str | None = None        # when given, the only key id taken
    stopping: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], receiver: Receiver):
        super().__init__(address, _Handler)
        self.receiver = receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._answer(status, json.dumps({"error": message}, ensure_ascii=False).encode("utf-8"))

    def do_GET(self) -> None:
        receiver = self.server.receiver
        self._answer(200, json.dumps({"records": receiver.store.count(),
                                      "requests": receiver.faults.played}).encode("utf-8"))

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self._body()
        if body is None:
            return
        fault = receiver.faults.next()
        if fault.kind is FaultKind.ERROR_500:
            self._error(500, "fault: 500 (nothing stored)")
            return
        problem = self._authentic(receiver, body)
        if problem is not None:
            self._error(401, problem)
            return
        spec = receiver.store.mapping.upload
        try:
            batch_id, records = read_request(spec, body)
        except MalformedRequest as exc:
            self._error(400, str(exc))
            return
        answers = receiver.store.receive(batch_id, records, datetime.now(UTC))
        log.info("batch %s: %d record(s), %d accepted", batch_id, len(answers),
                 sum(1 for a in answers if a.code in spec.accepted_codes))
        if fault.kind is FaultKind.SLOW:
            receiver.stopping.wait(fault.delay_s)   # the province is slow: the sender may stop waiting first
        if fault.kind is FaultKind.LOST:
            self._drop()
            return
        if fault.kind is FaultKind.GARBLED:
            self._answer(200, b"<html><body>502 Bad Gateway</body></html>")
            return
        self._answer(200, answer_body(spec, batch_id, [(a.record_id, a.code, a.message) for a in answers]))

    def _body(self) -> bytes | None:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._error(411, "a Content-Length is required")
            return None
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(int(length))

    def _authentic(self, receiver: Receiver, body: bytes) -> str | None:
        """None when the request is signed by our key, fresh and new; else why not."""
        spec = receiver.store.mapping.upload
        headers = CaseInsensitiveDict(self.headers.items())
        try:
            verified = verify_request(spec, receiver.verifier, "POST", urlsplit(self.path).path, headers, body,
                                      datetime.now(UTC))
        except SignatureError as exc:
            return str(exc)
        if receiver.key_id is not None and verified.key_id != receiver.key_id:
            return f"unknown key id {verified.key_id!r}"
        if receiver.store.nonce_seen(verified.nonce, verified.timestamp, spec.max_skew_s):
            return "the nonce was used before (a replayed request)"
        return None

    def _drop(self) -> None:
        """Close the connection with no answer: the sender sees it closed mid-request."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def make_server(host: str, port: int, receiver: Receiver) -> ThreadingHTTPServer:
    """The server, bound (port 0: a free one, `server.server_address[1]`), not yet serving."""
    return _Server((host, port), receiver)
