"""The registry: units and counters imported from CSV or xlsx (all or nothing, idempotent), enrollment codes
naming registered ones only, and a device moved to another counter keeping its history where it was.

Through the real CLI (`python -m centre.cli`) and a real centre process, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from openpyxl import Workbook
from sqlalchemy import select

from centre.db.tables import ratings
from contract import iso_utc
from tests.centre.conftest import TIMEOUT, Device, ago

HEADER = "区县 / District,行业 / Sector,单位编号 / Unit ID,单位名称 / Unit name,单位英文名 / Unit name (English)," \
         "时区 / Time zone,办公时间 / Opening hours,地址 / Address,窗口编号 / Counter ID,窗口名称 / Counter name," \
         "窗口英文名 / Counter name (English)"
ROWS = ["东城区,人力资源和社会保障,dc-hrss,东城人社中心,Dongcheng HRSS,Asia/Shanghai,"
        "\"mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00\",建国路1号,c-1,1号窗口,Counter 1",
        "东城区,人力资源和社会保障,dc-hrss,东城人社中心,Dongcheng HRSS,Asia/Shanghai,"
        "\"mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00\",建国路1号,c-2,2号窗口,Counter 2",
        "西城区,public_security,xc-ga,西城公安,,Asia/Urumqi,,,c-1,1号窗口,"]


def write_csv(folder: Path, rows: list[str], name: str = "units.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8-sig")   # Excel's BOM
    return path


def units(collector, *args: str) -> list[dict]:
    done = collector.cli("unit", "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_csv_imports_once_and_again_changes_nothing_but_a_changed_name(collector, tmp_path):
    first = collector.cli("unit", "import", str(write_csv(tmp_path, ROWS)))
    assert first.returncode == 0, first.stderr
    assert "added unit dc-hrss (东城人社中心)" in first.stdout and "added counter dc-hrss/c-2 (2号窗口)" in first.stdout
    listed = {unit["id"]: unit for unit in units(collector)}
    assert listed["dc-hrss"]["district"] == "东城区" and listed["dc-hrss"]["sector_code"] == "hrss"
    assert listed["dc-hrss"]["opening_hours"] == "mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00"
    assert [c["id"] for c in listed["dc-hrss"]["counters"]] == ["c-1", "c-2"]
    assert listed["xc-ga"]["timezone"] == "Asia/Urumqi" and listed["xc-ga"]["name_en"] is None
    assert [unit["id"] for unit in units(collector, "--district", "西城区")] == ["xc-ga"]
    assert [unit["id"] for unit in units(collector, "--sector", "公安")] == ["xc-ga"]

    again = collector.cli("unit", "import", str(write_csv(tmp_path, ROWS)))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("no change, the registry already holds them")
    assert units(collector) == list(listed.values())

    renamed = collector.cli("unit", "import", str(write_csv(tmp_path, [ROWS[0].replace("1号窗口", "一号窗口")])))
    assert renamed.returncode == 0, renamed.stderr
    assert "updated counter dc-hrss/c-1: name '1号窗口' → '一号窗口'" in renamed.stdout


def test_an_xlsx_imports_and_the_template_is_importable(collector, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["District", "Sector", "Unit ID", "Unit name", "Counter ID", "Counter name"])   # English headers
    sheet.append(["朝阳区", "Transport", 301, "朝阳交通服务中心", 7, "7号窗口"])                  # Excel's numbers
    workbook.save(tmp_path / "units.xlsx")
    done = collector.cli("unit", "import", str(tmp_path / "units.xlsx"))
    assert done.returncode == 0, done.stderr
    [unit] = units(collector)
    assert (unit["id"], unit["sector_code"], unit["counters"][0]["id"]) == ("301", "transport", "7")

    for name in ("template.xlsx", "template.csv"):
        made = collector.cli("unit", "template", "--out", str(tmp_path / name))
        assert made.returncode == 0, made.stderr
        loaded = collector.cli("unit", "import", str(tmp_path / name))
        assert loaded.returncode == 0, loaded.stderr
    assert "dc-hrss" in {unit["id"] for unit in units(collector)}


def test_any_bad_row_refuses_the_whole_file_and_lists_every_bad_row(collector, tmp_path):
    bad = [ROWS[0],
           ROWS[1].replace("人力资源和社会保障", "魔法"),                       # line 3
           ROWS[2].replace("Asia/Urumqi", "Mars/Olympus"),                      # line 4
           ROWS[0].replace("09:00-12:00 13:30", "12:00-09:00 13:30").replace("c-1,", "c-5,"),   # line 5
           ",education,u-x,某中心,,,,,c-1,1号窗口,",                              # line 6: no district
           ROWS[0]]                                                             # line 7: c-1 again
    done = collector.cli("unit", "import", str(write_csv(tmp_path, bad)))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "7 problem(s), nothing imported" in done.stderr   # lines 3 and 5 also differ from line 2's unit
    for line, words in ((3, "unknown sector '魔法'"), (4, "unknown time zone 'Mars/Olympus'"),
                        (5, "bad opening hours"), (6, "missing district (区县)"),
                        (7, "duplicate counter dc-hrss/c-1 (also on line 2)")):
        assert f"line {line}: {words}" in done.stderr, (line, done.stderr)
    assert "line 2:" not in done.stderr
    assert units(collector) == []


def test_enrollment_names_a_registered_unit_and_counter_and_sends_the_registrys_names(collector, tmp_path):
    assert collector.cli("unit", "import", str(write_csv(tmp_path, ROWS))).returncode == 0
    for unit, counter, words in (
            ("nowhere", "c-1", "unknown unit 'nowhere'"),
            ("dc-hrss", "c-9", "unknown counter 'c-9' of unit 'dc-hrss' (its counters: c-1, c-2)")):
        refused = collector.cli("enroll-code", "--unit", unit, "--counter", counter)
        assert refused.returncode == 2 and words in refused.stderr and not refused.stdout, refused.stderr
    made = collector.cli("enroll-code", "--unit", "dc-hrss", "--counter", "c-2")
    assert made.returncode == 0, made.stderr
    answer = requests.post(collector.url + "/v1/enroll", json={"code": made.stdout.strip(), "app_version": "0"},
                           timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["config"]["unit"] == {"id": "dc-hrss", "name": "东城人社中心", "name_en": "Dongcheng HRSS",
                                               "timezone": "Asia/Shanghai"}
    assert answer.json()["config"]["counter"] == {"id": "c-2", "name": "2号窗口", "name_en": "Counter 2"}


def placed(collector, device: Device) -> dict[str, tuple[str, bool]]:
    with collector.engine.connect() as conn:
        return {row.uuid: (row.placed_counter_id, row.placement_differs) for row in conn.execute(
            select(ratings.c.uuid, ratings.c.placed_counter_id, ratings.c.placement_differs)
            .where(ratings.c.delivered_by == device.device_id))}


def test_a_moved_device_leaves_its_earlier_ratings_under_the_counter_it_served(collector, enroll_device):
    device = enroll_device(unit="u-move", counter="c-1")
    collector.register("u-move", "c-2")
    early = device.rating(5, recorded_at=ago(minutes=30))
    assert device.ingest(device.batch([early])).status_code == 200
    backlog = device.rating(1, recorded_at=ago(minutes=20))      # given at c-1, delivered after the move
    # An unanswered request at c-1, also delivered after the move: it stays at c-1 too.
    unrated = [{"id": 1, "kind": "unrated", "recorded_at": iso_utc(ago(minutes=25)), "mono_ns": 1, "boot_id": "b",
                "detail": {}}]
    moved = collector.cli("device", "move", device.device_id, "--to", "u-move/c-2")
    assert moved.returncode == 0, moved.stderr
    assert "u-move/c-1 → u-move/c-2" in moved.stdout
    device.counter_id = "c-2"
    late = device.rating(4)
    assert device.ingest(device.batch([backlog, late], events=unrated)).status_code == 200
    assert placed(collector, device) == {early["uuid"]: ("c-1", False), backlog["uuid"]: ("c-1", False),
                                         late["uuid"]: ("c-2", False)}
    # Summed over the local days (the unit is in Asia/Shanghai) the ratings fell on: near its midnight, two.
    days = sorted({datetime.fromisoformat(rating["recorded_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
                   for rating in (early, backlog, late)})
    summaries = {counter: [json.loads(collector.cli("summary", "--unit", "u-move", "--counter", counter, "--date",
                                                    day.isoformat(), "--json").stdout) for day in days]
                 for counter in ("c-1", "c-2")}
    assert {counter: sum(day["total"] for day in each) for counter, each in summaries.items()} == {"c-1": 2, "c-2": 1}
    assert {counter: sum(day["unrated"] for day in each) for counter, each in summaries.items()} == {"c-1": 1,
                                                                                                     "c-2": 0}
    config = device.request("GET", "/v1/config").json()
    assert config["counter"]["id"] == "c-2"
    refused = collector.cli("device", "move", device.device_id, "--to", "u-move/c-9")
    assert refused.returncode == 2 and "unknown counter 'c-9'" in refused.stderr


def test_a_units_new_time_zone_moves_its_days_in_the_summary_and_the_rollups_alike(collector, enroll_device,
                                                                                    tmp_path):
    device = enroll_device(unit="u-zone", counter="c-1")
    evening = datetime(2026, 10, 8, 20, 0, tzinfo=UTC)          # 04:00 on the 9th in Shanghai, the 8th in UTC
    assert device.ingest(device.batch([device.rating(5, recorded_at=evening)])).status_code == 200

    def rated_on(day: str) -> tuple[int, int]:
        summary = collector.cli("summary", "--unit", "u-zone", "--date", day, "--json")
        figures = collector.cli("indicators", "--unit", "u-zone", "--date", day, "--json")
        assert summary.returncode == 0 and figures.returncode == 0, summary.stderr + figures.stderr
        return json.loads(summary.stdout)["total"], json.loads(figures.stdout)["rated"]

    assert (rated_on("2026-10-08"), rated_on("2026-10-09")) == ((0, 0), (1, 1))
    moved = collector.cli("unit", "import", str(write_csv(tmp_path, [
        "测试区,education,u-zone,u-zone,,Etc/UTC,,,c-1,c-1,"])))
    assert moved.returncode == 0, moved.stderr
    assert "timezone 'Asia/Shanghai' → 'Etc/UTC'" in moved.stdout and "recounted the rollups" in moved.stdout
    assert (rated_on("2026-10-08"), rated_on("2026-10-09")) == ((1, 1), (0, 0))


def test_a_registered_unit_without_devices_has_an_empty_day_not_an_unknown_unit(collector):
    collector.register("u-quiet", "c-1")
    summary = collector.cli("summary", "--unit", "u-quiet", "--date", "2026-10-08", "--json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["total"] == 0
    unknown = collector.cli("summary", "--unit", "u-nowhere", "--date", "2026-10-08")
    assert unknown.returncode != 0 and "unknown unit 'u-nowhere'" in unknown.stderr
