"""The technician screen's status table without Kivy: catalog labels for every key, values in human units,
and nothing drawn that the terminal's font lacks."""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from drivers.panel_status import LoggedFrame, PanelCounters, PanelStatus
from kiosk.config import Locale
from kiosk.screens.technician import Technician
from kiosk.screens.technician_rows import Formatter, ValueKind, label, size_text, time_text, value_kind
from kiosk.store.status import gather
from kiosk.store.tables import Channel, EventKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")    # the font a terminal installs (fonts-wqy-microhei)


@pytest.fixture
def local(make_settings, tmp_path):
    return make_settings(sync={"state_dir": str(tmp_path / "state")}, unit={"timezone": "Asia/Shanghai"})


def technician(settings, store, panels=(), frames=()) -> Technician:
    return Technician(settings, store, panels=lambda: list(panels), light_key=lambda _key: False,
                      restart=lambda: None, frames=lambda: list(frames))


def test_sizes_read_in_mb_or_gb() -> None:
    assert size_text(84_124_942_336) == "78.3 GB"
    assert size_text(4_337_168) == "4.1 MB"
    assert size_text(0) == "0.0 MB"


def test_times_are_local_to_the_second_whatever_form_they_come_in() -> None:
    stored = "2026-12-05T04:41:00.123456+00:00"              # as the store keeps them (iso_utc, microseconds)
    assert time_text(stored, SHANGHAI) == "2026-12-05 12:41:00"
    assert time_text("2026-12-05T04:41:00Z", SHANGHAI) == "2026-12-05 12:41:00"
    assert time_text("2026-12-05T04:41:00", SHANGHAI) == "2026-12-05 12:41:00"      # naive: stored UTC
    assert time_text(datetime(2026, 12, 5, 4, 41, 0, 999, tzinfo=UTC), SHANGHAI) == "2026-12-05 12:41:00"
    assert time_text(date(2026, 12, 5), SHANGHAI) == "2026-12-05"
    assert time_text("yesterday", SHANGHAI) == "yesterday"                            # no time: as it is


@pytest.mark.parametrize("locale, yes, no", [(Locale.ZH, "是", "否"), (Locale.EN, "yes", "no")])
def test_values_by_the_kind_of_their_key(locale, yes, no) -> None:
    fmt = Formatter(locale, SHANGHAI)
    assert fmt("provisioned", True) == yes and fmt("suspect", False) == no
    assert fmt("last_error", None) == "—" and fmt("rejected_reasons", {}) == "—"
    assert fmt("free_bytes", 84_124_942_336) == "78.3 GB"
    assert fmt("utc", "2026-12-05T04:41:00+00:00") == fmt("since", "2026-12-05T04:41:00+00:00") \
        == "2026-12-05 12:41:00"
    assert fmt("offset_s", -0.42) == ("-0.4 秒" if locale is Locale.ZH else "-0.4 s")
    assert fmt("rejected_reasons", {"bad hash": 2, "old": 1}) == \
        ("bad hash (2)、old (1)" if locale is Locale.ZH else "bad hash (2), old (1)")
    assert fmt("ratings", 250) == "250" and fmt("path", "/var/lib/ratings.db") == "/var/lib/ratings.db"
    long_error = "POST /v1/ingest: ConnectionError: " + "x" * 200
    assert len(fmt("last_error", long_error)) == 72 and fmt("last_error", long_error).endswith("…")
    assert value_kind("queue_depth", 3) is ValueKind.PLAIN and value_kind("size_bytes", True) is ValueKind.FLAG


def test_a_key_without_a_label_is_shown_readable() -> None:
    assert label("sync", "rejected_last_hour", Locale.ZH) == label("sync", "rejected_last_hour", Locale.EN) \
        == "Rejected last hour"
    assert label("store", "free_bytes", Locale.ZH) == "剩余空间"
    assert label("store", "free_bytes", Locale.EN) == "Free space"


def test_every_key_gather_returns_has_a_label_in_both_languages(local, store) -> None:
    store.record_event(EventKind.PANEL_CONNECTED, role="panel", port="/dev/evaluator-panel")
    store.record_event(EventKind.PANEL_HELLO, model="EVP-1", firmware="1.2")
    status = gather(local, store, quick_check=True)
    for part in ("device", "store", "sync", "clock", "panel"):
        for key in getattr(status, part):
            zh, en = label(part, key, Locale.ZH), label(part, key, Locale.EN)
            assert zh != en and "_" not in en, f"{part}.{key} has no label in the technician catalog"


@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
def test_the_model_draws_labels_and_human_values(local, store, locale) -> None:
    store.append_rating(5, Channel.TOUCH, "open")
    model = technician(local, store).model(locale)
    storage = model.section("store")
    assert storage.heading == ("存储" if locale is Locale.ZH else "Storage")
    assert storage.value("ratings") == "1"
    assert storage.value("size_bytes").endswith(" MB") and storage.value("free_bytes")[-3:] in (" MB", " GB")
    last = storage.value("last_rating_at")
    assert len(last) == 19 and "T" not in last and "+" not in last     # YYYY-MM-DD HH:MM:SS, local
    assert model.section("sync").value("provisioned") == ("否" if locale is Locale.ZH else "no")
    assert model.device == local.device.id
    labels = [row.label for section in model.sections for row in section.rows]
    assert "free_bytes" not in labels and "id" not in labels
    assert model.section("panel").value("configured") == "—"          # no panel: the status says so


def test_every_character_the_screen_draws_is_in_the_terminals_font(local, store) -> None:
    # ✗ is not in wqy-microhei: a False value was drawn as a box (tofu) on every terminal.
    from kiosk.ui.fonts import missing_glyphs

    if not WQY.is_file():
        pytest.skip(f"{WQY} is not installed (apt-get install fonts-wqy-microhei)")
    at = datetime(2026, 12, 5, 4, 41, tzinfo=UTC)
    panel = PanelStatus(port="/dev/evaluator-panel", connected=False, model=None, firmware=None, last_frame_at=at,
                        counters=PanelCounters(frames_ok=3, bad_checksum=1))
    frames = [LoggedFrame(at, "rx", "K3"), LoggedFrame(at, "tx", "L3")]
    for locale in Locale:
        model = technician(local, store, [panel], frames).model(locale)
        drawn = model.title + model.device + "".join(model.labels.values()) + "".join(
            section.heading + "".join(row.label + row.value for row in section.rows) for section in model.sections)
        assert "✗" not in drawn
        assert missing_glyphs(WQY, drawn) == set(), locale
    assert technician(local, store, [panel]).model(Locale.ZH).section("panel").value("connected") == "否"
