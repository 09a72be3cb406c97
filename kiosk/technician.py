"""Technician mode: what a technician reads and does at the terminal, without a laptop. No Kivy.

The screen draws a `TechnicianModel` and calls one method per button. Every
action is recorded as an event before its result is shown, so the store
keeps a trail of who touched the terminal and what they did. Nothing here
can add, edit or delete a rating.
"""
from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from kiosk import __version__
from kiosk.config import Locale, Settings
from kiosk.export import export_csv
from kiosk.models import EventKind
from kiosk.scoring import today
from kiosk.status import gather
from kiosk.store import RatingStore, StorageError

log = logging.getLogger(__name__)

EXPORT_DAYS = 31

_TEXT = {
    "title": ("技术员模式", "Technician mode"),
    "device": ("设备", "Device"), "store": ("存储", "Storage"), "sync": ("上传", "Upload"),
    "panel": ("按键面板", "Panel"), "clock": ("时钟", "Clock"),
    "check": ("检查存储", "Check storage"), "export": ("导出近31天评价", "Export last 31 days"),
    "scores": ("查看评分", "Scores"), "restart": ("重启程序", "Restart"), "back": ("返回", "Back"),
    "test_key": ("测试按键", "Test key"),
    "ok_storage": ("存储完好：{n} 条评价，哈希链完整", "Storage intact: {n} ratings, hash chain unbroken"),
    "bad_storage": ("存储异常：{why}", "Storage problem: {why}"),
    "exported": ("已导出 {n} 条到 {path}", "{n} ratings written to {path}"),
    "export_failed": ("导出失败：{why}", "Export failed: {why}"),
    "lit": ("已点亮按键 {key}", "Key {key} lit"),
    "no_panel": ("未连接按键面板", "No panel connected"),
    "hint": ("二维码：设备登记信息", "QR: device registration"),
}


def say(text_key: str, locale: Locale, **values: object) -> str:
    zh, en = _TEXT[text_key]
    return (zh if locale is Locale.ZH else en).format(**values)


class Action(str, enum.Enum):
    OPENED = "opened"
    CHECK_STORAGE = "check_storage"
    EXPORT = "export"
    TEST_KEY = "test_key"
    RESTART = "restart"


@dataclass(frozen=True)
class TechnicianModel:
    title: str
    sections: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]   # (heading, ((name, value), …))
    qr_payload: str
    labels: dict[str, str]


class Technician:
    def __init__(self, settings: Settings, store: RatingStore, panels: Callable[[], list[Any]],
                 light_key: Callable[[int], bool], restart: Callable[[], None]):
        """`panels`: the live PanelStatus of each port; `light_key`: send L<d> to the panel."""
        self._settings = settings
        self._store = store
        self._panels = panels
        self._light_key = light_key
        self._restart = restart

    def model(self, locale: Locale) -> TechnicianModel:
        status = gather(self._settings, self._store)
        sections = [(say(part, locale), tuple((key, _text(value)) for key, value in getattr(status, part).items()))
                     for part in ("device", "store", "sync", "clock")]
        for panel in self._panels():
            counters = panel.counters
            sections.append((say("panel", locale), (
                ("port", panel.port), ("connected", _text(panel.connected)),
                ("model", _text(panel.model)), ("firmware", _text(panel.firmware)),
                ("last_frame_at", _text(panel.last_frame_at)),
                ("frames ok / bad checksum", f"{counters.frames_ok} / {counters.bad_checksum}"),
                ("invalid / unknown", f"{counters.invalid} / {counters.unknown}"),
                ("reconnects", str(counters.reconnects)))))
        labels = {key: say(key, locale) for key in ("check", "export", "scores", "restart", "back", "test_key",
                                                    "hint")}
        return TechnicianModel(title=say("title", locale), sections=tuple(sections),
                               qr_payload=self.qr_payload(), labels=labels)

    def qr_payload(self) -> str:
        """For asset registration with a phone: who this terminal is, nothing secret."""
        s = self._settings
        return json.dumps({"device": s.device.id, "unit": s.unit.id, "unit_name": s.unit.name,
                           "counter": s.counter.id, "version": __version__}, ensure_ascii=False,
                          separators=(",", ":"), sort_keys=True)

    # -- actions (each recorded) -------------------------------------------------------

    def opened(self) -> None:
        self._record(Action.OPENED)

    def check_storage(self, locale: Locale) -> str:
        try:
            integrity = self._store.pragma("integrity_check")
            result = self._store.verify()
        except StorageError as exc:
            self._record(Action.CHECK_STORAGE, ok=False, problem=str(exc))
            return say("bad_storage", locale, why=exc)
        ok = integrity == "ok" and result.ok
        problem = None if ok else (f"integrity_check: {integrity}" if integrity != "ok"
                                   else f"seq {result.first_broken_seq}: {result.problem}")
        self._record(Action.CHECK_STORAGE, ok=ok, problem=problem, checked=result.checked)
        return say("ok_storage", locale, n=result.checked) if ok else say("bad_storage", locale, why=problem)

    def export(self, locale: Locale, now: datetime | None = None) -> str:
        until = today(self._settings.unit.zone, now)
        since = until - timedelta(days=EXPORT_DAYS - 1)
        out = self._settings.access.export_dir / f"ratings-{self._settings.device.id}-{until.isoformat()}.csv"
        try:
            done = export_csv(self._store, self._settings, since, until, out)
        except (OSError, StorageError) as exc:
            self._record(Action.EXPORT, ok=False, path=str(out), problem=str(exc))
            return say("export_failed", locale, why=exc)
        self._record(Action.EXPORT, ok=True, path=str(done.path), rows=done.rows, since=since.isoformat(),
                     until=until.isoformat())
        return say("exported", locale, n=done.rows, path=done.path)

    def test_key(self, key: int, locale: Locale) -> str:
        sent = self._light_key(key)
        self._record(Action.TEST_KEY, key=key, sent=sent)
        return say("lit", locale, key=key) if sent else say("no_panel", locale)

    def restart(self) -> None:
        self._record(Action.RESTART)
        self._restart()

    def _record(self, action: Action, **detail: object) -> None:
        try:
            self._store.record_event(EventKind.TECHNICIAN_ACTION, action=action.value, **detail)
        except StorageError as exc:     # the action still runs: a technician may be here to fix the disk
            log.warning("could not record technician action %s: %s", action.value, exc)


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
