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

import contextlib
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

    While dark it accepts nothing and its accept queue (backlog 0) is full: it holds a connection of its
    own there, so every SYN is dropped and the client's connect() times out — the one fault an HTTP-level
    proxy cannot make. Connections open when it goes dark are reset. A light phase lasts `light_s` from the
    first byte it forwards: a client still waiting out a connect timeout when the light returns loses none
    of it, so every light phase carries traffic and a drain meets one outage per `light_s` of its work,
    however fast the machine. `outages` counts the dark phases that began.
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
        self._flowing = threading.Event()        # a byte went upstream in this light phase
        self._accepting = threading.Lock()       # held around accept(): the dark's own connection is never taken
        self._plug: socket.socket | None = None  # that connection, filling the accept queue while dark
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
        if self._plug is not None:
            self._plug.close()

    def _cycle(self) -> None:
        while self._light_phase():
            self._go_dark()
            if self._stop.wait(self._dark_s):
                break
            self._go_light()

    def _light_phase(self) -> bool:
        """Wait out a light phase: `light_s` from its first byte forwarded. False once stopped."""
        while not self._flowing.wait(0.05):
            if self._stop.is_set():
                return False
        return not self._stop.wait(self._light_s)

    def _go_dark(self) -> None:
        self._lit.clear()
        with self._accepting:        # the accept loop is out of accept(), and sees the dark before it goes back
            try:
                self._plug = socket.create_connection(self._listener.getsockname(), timeout=0.1)
            except OSError:
                self._plug = None    # a client's connect took the one place first: it fills the queue instead
        self.outages += 1
        self._reset_all()

    def _go_light(self) -> None:
        if self._plug is not None:
            with self._accepting:    # the queue's first connection is the plug: take it out, then let clients in
                with contextlib.suppress(OSError):
                    self._listener.accept()[0].close()
            self._plug.close()
            self._plug = None
        self._flowing.clear()
        self._lit.set()

    def _accept(self) -> None:
        while not self._stop.is_set():
            if not self._lit.wait(0.05):
                continue                      # dark: leave the queue full, so new connects hang
            with self._accepting:
                if not self._lit.is_set():
                    continue
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
                lit = self._lit.is_set()
                if lit:
                    self._open.update((client, upstream))
            if not lit:                       # gone dark meanwhile: reset, as if it had been open then
                for end in (client, upstream):
                    self._close(end, reset=True)
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, source is client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream_bound: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if upstream_bound:
                    self._flowing.set()
        except OSError:
            pass
        finally:
            for end in (source, sink):       # wakes the other direction's pump, which then closes its own end
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RD)
            self._close(source)              # only once recv() has returned: then close() frees the socket

    def _reset_all(self) -> None:
        with self._lock:
            ends, self._open = list(self._open), set()
        for end in ends:     # SO_LINGER 0 on every end before any pump wakes: each end's close then sends RST
            with contextlib.suppress(OSError):
                end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for end in ends:     # wakes the pumps blocked in recv(), and each closes its end
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RD)

    def _close(self, end: socket.socket, reset: bool = False) -> None:
        with contextlib.suppress(OSError):
            if reset:        # SO_LINGER 0: close sends RST, as a dropped link or a crashed middlebox does
                end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            end.close()
        with self._lock:
            self._open.discard(end)
