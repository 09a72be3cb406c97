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

    def __enter__(self) -> FaultProxy:
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


class Blackout:
    """A TCP forwarder whose uplink goes dark every so often, as a hall's network does.

    While dark it stops accepting: the kernel's accept queue (backlog 0)
    fills, further SYNs are dropped and the client's connect() times out —
    the one fault an HTTP-level proxy cannot make. Connections open when it
    goes dark are reset. `outages` counts the dark phases that began.
    """

    def __init__(self, upstream: str, light_s: float = 1.0, dark_s: float = 1.5):
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        self._upstream = (host, int(port))
        self._light_s, self._dark_s = light_s, dark_s
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=0)
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._lit = threading.Event()
        self._lit.set()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.outages = 0
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._cycle, daemon=True)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Blackout:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._lit.set()
        for thread in self._threads:
            thread.join(5)
        self._listener.close()
        self._reset_all()

    def _cycle(self) -> None:
        while not self._stop.wait(self._light_s):
            self._lit.clear()
            self.outages += 1
            self._reset_all()
            if self._stop.wait(self._dark_s):
                break
            self._lit.set()

    def _accept(self) -> None:
        while not self._stop.is_set():
            if not self._lit.wait(0.05):
                continue                      # dark: leave the queue full, so new connects hang
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._close(end)

    def _reset_all(self) -> None:
        with self._lock:
            ends, self._open = list(self._open), set()
        for end in ends:
            self._close(end, reset=True)

    def _close(self, end: socket.socket, reset: bool = False) -> None:
        try:
            if reset:
                end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            end.close()
        except OSError:
            pass
        with self._lock:
            self._open.discard(end)
