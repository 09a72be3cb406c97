"""A fault-injecting HTTP proxy on 127.0.0.1, between the real uploader and the real collector.

Each request takes the next fault from a repeating plan (e.g. ``["503", None]``:
every other request fails). The faults are what a hall's network does:

- ``"500"``, ``"503"``: an error answer (503 with ``Retry-After``), nothing forwarded;
- ``"reset"``: the connection is reset before anything is forwarded;
- ``"ack-lost"``: forwarded and committed by the collector, then the connection is reset;
- ``"read-timeout"``: forwarded, then the answer is held past the client's read timeout;
- ``"trickle"``: forwarded, then the answer dribbles out a few bytes at a time.
"""
from __future__ import annotations

import itertools
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

FAULTS = ("500", "503", "reset", "ack-lost", "read-timeout", "trickle")


class FaultProxy:
    def __init__(self, upstream: str, plan: list[str | None], hold_s: float = 1.0, retry_after_s: int = 0):
        self.upstream = upstream.rstrip("/")
        self._plan = itertools.cycle(plan)
        self._lock = threading.Lock()
        self.hold_s = hold_s
        self.retry_after_s = retry_after_s
        self.injected: dict[str, int] = {}
        self.forwarded = 0
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def next_fault(self) -> str | None:
        with self._lock:
            fault = next(self._plan)
            if fault:
                self.injected[fault] = self.injected.get(fault, 0) + 1
            return fault

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def do_GET(self) -> None:
                self._relay()

            def do_POST(self) -> None:
                self._relay()

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy.next_fault()
                if fault in ("500", "503"):
                    extra = {"Retry-After": str(proxy.retry_after_s)} if fault == "503" else {}
                    return self._answer(int(fault), b'{"detail":"injected fault"}', extra)
                if fault == "reset":
                    return self._reset()
                upstream = requests.request(self.command, proxy.upstream + self.path, data=body or None,
                                            headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                                            timeout=30)
                with proxy._lock:
                    proxy.forwarded += 1
                if fault == "ack-lost":
                    return self._reset()
                if fault == "read-timeout":
                    proxy._released.wait(proxy.hold_s)
                    return self._reset()
                headers = {k: v for k, v in upstream.headers.items()
                           if k.lower() in ("content-type", "etag", "retry-after")}
                self._answer(upstream.status_code, upstream.content, headers, trickle=fault == "trickle")

            def _answer(self, status: int, payload: bytes, headers: dict[str, str], trickle: bool = False) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not trickle:
                    self.wfile.write(payload)
                    return
                pause = threading.Event()
                for start in range(0, len(payload), 16):
                    self.wfile.write(payload[start:start + 16])
                    self.wfile.flush()
                    pause.wait(0.002)

            def _reset(self) -> None:
                # SO_LINGER 0: close sends RST, as a dropped link or a crashed middlebox does.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

        return Handler
