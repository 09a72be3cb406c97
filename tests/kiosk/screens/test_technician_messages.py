"""What technician mode says, without Kivy: every message in the screen's language, from the catalog, and none
that tells the technician to run a command. The centre's failures come from real HTTP (a closed port, a small
server answering 401 or 400), the storage's from a real tampered store."""
from __future__ import annotations

import errno
import json
import re
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evaluator.terminal import technician_mode
from kiosk.config import Locale
from kiosk.screens.technician import _export_problem
from kiosk.store import StorageError
from kiosk.store.sync_state import ANCHOR_FILE
from kiosk.store.tables import Channel, EventKind
from sync.client import Credentials

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
LATIN = re.compile(r"[A-Za-z]")


def messages(technician, call) -> dict[Locale, str]:
    """The message `call(technician, locale, done)` ends with, in each language."""
    said: dict[Locale, str] = {}
    for locale in Locale:
        call(technician, locale, lambda text, locale=locale: said.__setitem__(locale, text))
    return said


def in_its_language(said: dict[Locale, str]) -> None:
    assert not CJK.search(said[Locale.EN]), said[Locale.EN]
    assert not LATIN.search(said[Locale.ZH]), said[Locale.ZH]
    assert not any("evaluator" in text or "run " in text for text in said.values())


@pytest.fixture
def tech(make_settings, tmp_path, store):
    settings = make_settings(sync={"state_dir": str(tmp_path / "state")})
    return settings, technician_mode(settings, store, None, restart=lambda: None, background=lambda work: work(),
                                     relaunch=lambda: None)


def enrolled_at(settings, server: str) -> None:
    Credentials(server=server, device_id=settings.device.id, secret="c2VjcmV0").save(settings.sync.state_dir)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Answer(BaseHTTPRequestHandler):
    status = 401

    def _answer(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "bad signature"}')

    do_GET = do_POST = _answer

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def centre_answering():
    servers = []

    def start(status: int) -> str:
        handler = type("Fixed", (Answer,), {"status": status})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_no_panel_configured_is_said_so(tech, store) -> None:
    _settings, technician = tech
    assert technician.reconnect_panel(Locale.ZH) == "未配置面板"
    assert technician.reconnect_panel(Locale.EN) == "No panel configured"
    assert technician.test_key(3, Locale.ZH) == "未配置面板"
    details = [e["detail"] for e in store.events_of(EventKind.TECHNICIAN_ACTION)]
    assert details[0] == {"action": "reconnect_panel", "configured": False}


def test_a_terminal_not_enrolled_says_so_instead_of_naming_a_command(tech) -> None:
    _settings, technician = tech
    said = messages(technician, lambda t, locale, done: t.test_connection(locale, done))
    assert said == {Locale.ZH: "连接失败：本机尚未登记，请先点“设备登记”",
                    Locale.EN: "Connection failed: not enrolled yet, tap Enroll first"}
    in_its_language(said)


def test_no_network_is_said_in_the_screens_language(tech, store) -> None:
    settings, technician = tech
    enrolled_at(settings, f"http://127.0.0.1:{closed_port()}")
    store.append_rating(5, Channel.TOUCH, "open")
    said = messages(technician, lambda t, locale, done: t.sync_now(locale, lambda _text: None, done))
    assert said[Locale.ZH] == "上传失败：连不上中心，请检查网络和服务器地址"
    in_its_language(said)
    failed = store.events_of(EventKind.TECHNICIAN_ACTION)[-1]["detail"]
    assert failed["ok"] is False and "ConnectionError" in failed["problem"]     # the details are kept


@pytest.mark.parametrize("status, zh", [(401, "连接失败：中心拒绝本机（密钥已失效，或时钟偏差过大）"),
                                        (400, "连接失败：中心拒收了请求")])
def test_the_centre_refusing_is_said_in_the_screens_language(tech, centre_answering, status, zh) -> None:
    settings, technician = tech
    enrolled_at(settings, centre_answering(status))
    said = messages(technician, lambda t, locale, done: t.test_connection(locale, done))
    assert said[Locale.ZH] == zh
    in_its_language(said)


def test_a_broken_chain_is_said_in_the_screens_language(tech, store) -> None:
    _settings, technician = tech
    for level in (5, 4, 3, 2, 1):
        store.append_rating(level, Channel.TOUCH, "open")
    with sqlite3.connect(store.path) as raw:                 # a person with sqlite3 and root on the device
        raw.execute("DROP TRIGGER ratings_no_update")
        raw.execute("UPDATE ratings SET level = 5 WHERE seq = 3")
    said = messages(technician, lambda t, locale, done: t.check_storage(locale, done))
    assert said == {Locale.ZH: "存储异常：哈希链在第 3 条评价处断开",
                    Locale.EN: "Storage problem: the hash chain breaks at rating 3"}
    in_its_language(said)


def test_export_failures_are_said_in_the_screens_language(tech) -> None:
    _settings, technician = tech
    said = messages(technician, lambda t, locale, done: t.export(locale, done))     # export_dir: no stick there
    assert said[Locale.EN].startswith("Export failed: no USB stick at ")
    assert "mount" not in said[Locale.EN] and not CJK.search(said[Locale.EN])
    assert _export_problem(OSError(errno.ENOSPC, "No space left on device"), Locale.ZH) == "U盘空间不足"
    assert _export_problem(OSError(errno.EROFS, "Read-only file system"), Locale.EN) == "the USB stick is read-only"
    assert _export_problem(OSError(errno.EIO, "Input/output error"), Locale.EN) == "cannot write to the USB stick"
    assert _export_problem(StorageError("database disk image is malformed"), Locale.ZH) == "无法读取存储"


def test_a_cut_tail_of_acknowledged_ratings_is_a_storage_problem_on_the_screen(tech, store) -> None:
    settings, technician = tech
    for level in (5, 4, 3, 2, 1):
        store.append_rating(level, Channel.TOUCH, "open")
    tip = store.recent_ratings(1)[0]
    settings.sync.state_dir.mkdir(parents=True, exist_ok=True)
    # What the centre acknowledged, as the uploader leaves it (kiosk.store.sync_state.raise_anchor).
    (settings.sync.state_dir / ANCHOR_FILE).write_text(
        json.dumps({"seq": tip["seq"], "hash": tip["hash"], "acknowledged_at": "2026-12-01T08:00:00.000000Z"}))
    assert messages(technician, lambda t, locale, done: t.check_storage(locale, done))[Locale.EN].startswith(
        "Storage intact")
    with sqlite3.connect(store.path) as raw:                 # root cuts the synced tail
        raw.execute("DROP TRIGGER ratings_no_delete")
        raw.execute("DELETE FROM ratings WHERE seq >= 4")
    said = messages(technician, lambda t, locale, done: t.check_storage(locale, done))
    assert said[Locale.EN].startswith("Storage problem"), said
    in_its_language(said)
