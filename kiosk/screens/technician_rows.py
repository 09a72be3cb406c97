"""The technician screen's status table: a label from the catalog for each key, each value in human units. No Kivy.

`kiosk.store.status.gather()` returns plain keys and raw values (`free_bytes 84124942336`, UTC ISO times
with microseconds). The screen shows them as a technician reads them: labels in the screen's language,
sizes in MB or GB, times in the unit's time zone to the second, yes/no, a dash for nothing. A value is
formatted by the kind of its key (`value_kind`), so a field a newer status adds is formatted too, and
until it has a label of its own it is shown under its key made readable ("rejected_count" → "Rejected count").
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from kiosk.config import Locale
from kiosk.screens.texts import CATALOG, Voice

say = Voice("technician")

MIB = 1024 ** 2
GIB = 1024 ** 3
LONGEST_VALUE = 72          # characters: a longer value (an error, a path) is cut with "…" to stay on its row
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_KEYS = frozenset({"utc", "since"})     # times whose key does not end in _at


class ValueKind(str, enum.Enum):
    BYTES = "bytes"          # key ends in _bytes: MB or GB
    TIME = "time"            # key ends in _at (or is one of TIME_KEYS): local time to the second
    SECONDS = "seconds"      # key ends in _s
    FLAG = "flag"            # a bool: 是/否 · yes/no (wqy-microhei has ✓ but no ✗, so words)
    PLAIN = "plain"


def value_kind(key: str, value: object) -> ValueKind:
    if isinstance(value, bool):
        return ValueKind.FLAG
    if key.endswith("_bytes"):
        return ValueKind.BYTES
    if key.endswith("_at") or key in TIME_KEYS:
        return ValueKind.TIME
    if key.endswith("_s"):
        return ValueKind.SECONDS
    return ValueKind.PLAIN


def size_text(n: float) -> str:
    """Bytes as "512.0 MB" below a gigabyte, "78.6 GB" from one (binary units, as `df -h`)."""
    return f"{n / GIB:.1f} GB" if abs(n) >= GIB else f"{n / MIB:.1f} MB"


def time_text(value: datetime | date | str, zone: tzinfo) -> str:
    """A time as `YYYY-MM-DD HH:MM:SS` in `zone`; an ISO string is parsed, a naive time taken as UTC (as stored).
    A string that is no time is shown as it is."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    elif isinstance(value, datetime):
        moment = value
    else:
        return value.isoformat()         # a day: no time to convert
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime(TIME_FORMAT)


def _cut(text: str) -> str:
    return text if len(text) <= LONGEST_VALUE else text[:LONGEST_VALUE - 1] + "…"


@dataclass(frozen=True)
class Formatter:
    """Values of the status in `locale`, times in the unit's `zone`."""

    locale: Locale
    zone: tzinfo

    def __call__(self, key: str, value: object) -> str:
        return _cut(self._text(key, value))

    def _text(self, key: str, value: object) -> str:
        if value is None or (isinstance(value, Mapping | list | tuple) and not value):
            return say("none", self.locale)
        kind = value_kind(key, value)
        if kind is ValueKind.FLAG:
            return say("yes" if value else "no", self.locale)
        if isinstance(value, Mapping):          # e.g. the rejected ratings' {reason: count}
            return say("separator", self.locale).join(f"{k} ({self._text(key, v)})" for k, v in value.items())
        if isinstance(value, Sequence) and not isinstance(value, str):
            return say("separator", self.locale).join(self._text(key, item) for item in value)
        if kind is ValueKind.BYTES and isinstance(value, int | float):
            return size_text(value)
        if kind is ValueKind.TIME and isinstance(value, datetime | date | str):
            return time_text(value, self.zone)
        if kind is ValueKind.SECONDS and isinstance(value, int | float):
            return say("seconds", self.locale, n=f"{value:.1f}")
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


_LABELS = frozenset(CATALOG["technician"])


def label(part: str, key: str, locale: Locale) -> str:
    """The label of `key` in the status part `part` ("store", "free_bytes" → 剩余空间 / Free space); a key with
    no label yet is shown readable, the same in both languages."""
    name = f"{part}.{key}"
    if name in _LABELS:
        return say(name, locale)
    return key.replace("_", " ").strip().capitalize() or key


@dataclass(frozen=True)
class Row:
    key: str        # the status key, e.g. "free_bytes"
    label: str
    value: str


@dataclass(frozen=True)
class Section:
    key: str        # "device", "store", "sync", "clock", "panel", "frames"
    heading: str
    rows: tuple[Row, ...]

    def value(self, key: str) -> str:
        """The shown value of the row of `key` (KeyError when there is none)."""
        for row in self.rows:
            if row.key == key:
                return row.value
        raise KeyError(key)


def status_section(part: str, values: Mapping[str, Any], fmt: Formatter) -> Section:
    """One part of the status, every key it has, in its order."""
    return Section(part, say(part, fmt.locale),
                   tuple(Row(key, label(part, key, fmt.locale), fmt(key, value)) for key, value in values.items()))


def panel_section(panel: Any, fmt: Formatter) -> Section:
    """A live drivers.panel_status.PanelStatus: the port, its link and its frame counters."""
    counters = panel.counters
    rows = [Row(key, label("panel", key, fmt.locale), fmt(key, getattr(panel, key)))
            for key in ("port", "connected", "model", "firmware", "last_frame_at")]
    rows += [Row("frames_ok_bad", label("panel", "frames_ok_bad", fmt.locale),
                 f"{counters.frames_ok} / {counters.bad_checksum}"),
             Row("invalid_unknown", label("panel", "invalid_unknown", fmt.locale),
                 f"{counters.invalid} / {counters.unknown}"),
             Row("reconnects", label("panel", "reconnects", fmt.locale), str(counters.reconnects))]
    return Section("panel", say("panel", fmt.locale), tuple(rows))


def frames_section(frames: Sequence[Any], fmt: Formatter) -> Section:
    """The panel's last frames, each under its local time (HH:MM:SS) and its direction (收/发 · in/out)."""
    rows = tuple(Row(str(index), f"{f.at.astimezone(fmt.zone).strftime('%H:%M:%S')}  "
                                 f"{label('frames', f.direction, fmt.locale)}", f.text)
                 for index, f in enumerate(frames))
    return Section("frames", say("frames", fmt.locale), rows)
