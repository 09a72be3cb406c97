"""API tokens scoped to the registry's subtree: a district, a sector city-wide, a district's sector, units.

Against a real centre process over HTTP, on SQLite and PostgreSQL, with tokens issued by the office's own
command line. What a token reaches is the registry's at each request, so a unit moved follows its new
place. Every read route answers JSON in pages and the same answer as CSV and xlsx.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import select

from centre.db.tables import districts, units
from centre.registry import queries
from centre.registry.model import UnitSpec
from tests.centre.conftest import REPO, TIMEOUT, Collector, Device
from tests.centre.test_indicators import at

DAY = "2026-03-10"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READS = ("/v1/reports/summary", "/v1/indicators", "/v1/integrity", "/v1/units")
HRSS = "hrss (人力资源和社会保障)"


def centre(collector: Collector, *args: str) -> subprocess.CompletedProcess[str]:
    """The office's command line, as an office runs it."""
    return subprocess.run([sys.executable, "-m", "evaluator.cli", "centre", *args, "--db", collector.db_url],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def place(collector: Collector, unit: str, district: str, sector: str, name: str | None = None) -> None:
    """Put a registered unit into a district and sector, as `unit import` does when the office moves it."""
    with collector.engine.begin() as conn:
        held = conn.execute(select(units).where(units.c.id == unit)).mappings().one()
        queries.save(conn, [UnitSpec(id=unit, name=name or held["name"], name_en=held["name_en"], district=district,
                                     district_en=None, sector=sector, timezone=held["timezone"],
                                     opening_hours=held["opening_hours"])], [])


def token(collector: Collector, name: str, *scope: str) -> dict[str, str]:
    """A token from `evaluator centre token add`, as the Authorization header."""
    added = centre(collector, "token", "add", "--name", name, *scope)
    assert added.returncode == 0, added.stderr
    return {"Authorization": f"Bearer {added.stdout.strip()}"}


def get(collector: Collector, path: str, headers: dict[str, str], **params: Any) -> requests.Response:
    return requests.get(collector.url + path, params=params, headers=headers, timeout=TIMEOUT)


@dataclass
class City:
    """dc-1 (东城区, hrss, 2 ratings), dc-2 (东城区, education, 3), xc-1 (西城区, hrss, 4)."""

    devices: dict[str, Device]

    def device_ids(self, *unit_ids: str) -> set[str]:
        return {self.devices[unit].device_id for unit in unit_ids}


@pytest.fixture
def city(collector: Collector, enroll_device: Any) -> City:
    found = {}
    for unit, district, sector, count in (("dc-1", "东城区", "hrss", 2), ("dc-2", "东城区", "education", 3),
                                          ("xc-1", "西城区", "人力资源和社会保障", 4)):
        device = enroll_device(unit=unit)
        rows = [device.rating(5 if n else 1, recorded_at=at(f"{DAY}T10:0{n}:00+08:00")) for n in range(count)]
        assert device.ingest(device.batch(rows)).status_code == 200
        place(collector, unit, district, sector)
        found[unit] = device
    return City(found)


def test_a_district_token_reads_its_district_and_nothing_else(collector: Collector, city: City) -> None:
    added = centre(collector, "token", "add", "--name", "dongcheng-office", "--district", "东城区")
    assert added.returncode == 0, added.stderr
    assert "district: 东城区: 2 unit(s) today" in added.stderr
    headers = {"Authorization": f"Bearer {added.stdout.strip()}"}
    for unit, total in (("dc-1", 2), ("dc-2", 3)):
        answer = get(collector, "/v1/reports/summary", headers, unit=unit, date=DAY)
        assert answer.status_code == 200 and answer.json()["total"] == total, answer.text
    outside = get(collector, "/v1/reports/summary", headers, unit="xc-1", date=DAY)
    missing = get(collector, "/v1/reports/summary", headers, unit="no-such-unit", date=DAY)
    assert (outside.status_code, missing.status_code) == (403, 403)
    assert outside.json() == {"detail": "this API token may read district: 东城区, not unit 'xc-1'"}
    assert missing.json() == {"detail": "this API token may read district: 东城区, not unit 'no-such-unit'"}

    # Nothing named: the district, not the city (and the answer says so).
    own = get(collector, "/v1/indicators", headers, date=DAY).json()
    assert (own["scope"], own["unit_ids"], own["rated"], own["bad"]) == ("district: 东城区", ["dc-1", "dc-2"], 5, 2)
    narrowed = get(collector, "/v1/indicators", headers, date=DAY, sector="hrss").json()
    assert (narrowed["scope"], narrowed["unit_ids"], narrowed["rated"]) == (f"district: 东城区 · sector: {HRSS}",
                                                                          ["dc-1"], 2)
    for beyond, named in (({"unit": "xc-1"}, "unit 'xc-1'"), ({"district": "西城区"}, "district '西城区'"),
                          ({"district": "南城区"}, "district '南城区'"),      # unknown: a 403 too, not a 404
                          ({"unit": ["dc-1", "xc-1"]}, "unit 'xc-1'")):
        refused = get(collector, "/v1/indicators", headers, date=DAY, **beyond)
        assert refused.status_code == 403, (beyond, refused.text)
        assert refused.json() == {"detail": f"this API token may read district: 东城区, not {named}"}

    report = get(collector, "/v1/integrity", headers).json()
    assert {item["device_id"] for item in report["devices"]} == city.device_ids("dc-1", "dc-2")
    assert (report["ok"], report["total"]) == (True, 2)
    listed = get(collector, "/v1/units", headers).json()
    assert [(unit["id"], unit["district"], unit["sector_code"]) for unit in listed["units"]] == [
        ("dc-1", "东城区", "hrss"), ("dc-2", "东城区", "education")]
    assert get(collector, "/v1/units", headers, district="西城区").status_code == 403


def test_a_city_token_reads_any_district_or_sector(collector: Collector, city: City) -> None:
    headers = token(collector, "data-platform")
    west = get(collector, "/v1/indicators", headers, date=DAY, district="西城区").json()
    assert (west["scope"], west["unit_ids"], west["rated"]) == ("district: 西城区", ["xc-1"], 4)
    with collector.engine.connect() as conn:     # a district by its id too
        east_id = conn.execute(select(districts.c.id).where(districts.c.name == "东城区")).scalar_one()
    east = get(collector, "/v1/indicators", headers, date=DAY, district=str(east_id)).json()
    assert (east["unit_ids"], east["rated"]) == (["dc-1", "dc-2"], 5)
    whole = get(collector, "/v1/indicators", headers, date=DAY).json()
    assert (whole["scope"], whole["unit_ids"], whole["rated"]) == ("city", None, 9)
    assert [unit["id"] for unit in get(collector, "/v1/units", headers, sector="Human Resources and Social Security"
                                       ).json()["units"]] == ["dc-1", "xc-1"]
    for unknown in ({"district": "南城区"}, {"sector": "astrology"}):
        missing = get(collector, "/v1/indicators", headers, date=DAY, **unknown)
        assert missing.status_code == 404, missing.text
    both = get(collector, "/v1/indicators", headers, date=DAY, unit="dc-1", district="东城区")
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    # The office's command line gives the same figures for a district as the API.
    cli = collector.cli("indicators", "--district", "西城区", "--date", DAY, "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == west


def test_a_sector_token_reads_its_sector_in_every_district(collector: Collector, city: City) -> None:
    headers = token(collector, "hrss-bureau", "--sector", "人力资源和社会保障")   # by its name, kept as its code
    for unit, status in (("dc-1", 200), ("xc-1", 200), ("dc-2", 403)):
        assert get(collector, "/v1/reports/summary", headers, unit=unit, date=DAY).status_code == status, unit
    own = get(collector, "/v1/indicators", headers, date=DAY).json()
    assert (own["scope"], own["unit_ids"], own["rated"]) == (f"sector: {HRSS}", ["dc-1", "xc-1"], 6)
    west = get(collector, "/v1/indicators", headers, date=DAY, district="西城区").json()
    assert (west["scope"], west["unit_ids"], west["rated"]) == (f"district: 西城区 · sector: {HRSS}", ["xc-1"], 4)
    refused = get(collector, "/v1/indicators", headers, date=DAY, sector="education")
    assert refused.status_code == 403 and refused.json()["detail"] == (
        f"this API token may read sector: {HRSS}, not sector 'education'")
    report = get(collector, "/v1/integrity", headers).json()
    assert {item["device_id"] for item in report["devices"]} == city.device_ids("dc-1", "xc-1")


def test_a_districts_sector_bureau_reads_that_sector_in_that_district(collector: Collector, city: City) -> None:
    headers = token(collector, "dongcheng-hrss", "--district", "东城区", "--sector", "hrss")
    for unit, status in (("dc-1", 200), ("dc-2", 403), ("xc-1", 403)):
        assert get(collector, "/v1/reports/summary", headers, unit=unit, date=DAY).status_code == status, unit
    own = get(collector, "/v1/indicators", headers, date=DAY).json()
    assert (own["unit_ids"], own["rated"]) == (["dc-1"], 2)
    assert get(collector, "/v1/indicators", headers, date=DAY, district="西城区").status_code == 403
    assert [unit["id"] for unit in get(collector, "/v1/units", headers).json()["units"]] == ["dc-1"]


def test_the_subtree_is_the_registrys_at_each_request(collector: Collector, city: City) -> None:
    headers = token(collector, "dongcheng-office", "--district", "东城区")
    assert get(collector, "/v1/reports/summary", headers, unit="xc-1", date=DAY).status_code == 403
    place(collector, "xc-1", "东城区", "hrss")          # the office moves xc-1 into 东城区 …
    place(collector, "dc-1", "西城区", "hrss")          # … and dc-1 out of it
    assert get(collector, "/v1/reports/summary", headers, unit="xc-1", date=DAY).status_code == 200
    assert get(collector, "/v1/reports/summary", headers, unit="dc-1", date=DAY).status_code == 403
    own = get(collector, "/v1/indicators", headers, date=DAY).json()
    assert (own["unit_ids"], own["rated"]) == (["dc-2", "xc-1"], 7)       # a moved unit brings its history
    report = get(collector, "/v1/integrity", headers).json()
    assert {item["device_id"] for item in report["devices"]} == city.device_ids("dc-2", "xc-1")


def test_token_add_names_what_the_registry_lacks_and_list_says_each_scope(collector: Collector, city: City) -> None:
    for args, said in ((["--district", "南城区"], "unknown district '南城区'"),
                       (["--district", "南城区", "--sector", "astrology", "--district", "东城区"],
                        "unknown district '南城区', sector 'astrology'"),
                       (["--unit", "no-such-unit"], "unknown unit 'no-such-unit'"),
                       (["--unit", "dc-1", "--district", "东城区"], "give --unit alone")):
        refused = centre(collector, "token", "add", "--name", "refused", *args)
        assert refused.returncode == 2 and refused.stdout == "", refused.stderr
        assert refused.stderr.startswith(f"error: {said}"), refused.stderr
    assert centre(collector, "token", "list").stdout == "no API tokens\n"

    with collector.engine.begin() as conn:     # a district by its English name, any case, too
        conn.execute(districts.update().where(districts.c.name == "东城区").values(name_en="Dongcheng"))
    for number, scope in enumerate(([], ["--district", "东城区"], ["--sector", "hrss"],
                                    ["--district", "dongcheng", "--sector", "hrss"],
                                    ["--unit", "xc-1", "--unit", "dc-2"])):
        token(collector, f"client-{number}", *scope)
    lines = centre(collector, "token", "list").stdout.splitlines()
    assert [line.split("[", 1)[1].split("]", 1)[0] for line in lines] == [
        "city", "district: 东城区", f"sector: {HRSS}", f"district: 东城区 · sector: {HRSS}", "unit: xc-1, dc-2"]
    listed = json.loads(centre(collector, "token", "list", "--json").stdout)
    with collector.engine.connect() as conn:
        east_id = conn.execute(select(districts.c.id).where(districts.c.name == "东城区")).scalar_one()
    assert [(item["scope"], item["scope_text"]) for item in listed][1:4] == [
        ({"kind": "district", "ids": [str(east_id)]}, "district: 东城区"),
        ({"kind": "sector", "ids": ["hrss"]}, f"sector: {HRSS}"),
        ({"kind": "district_sector", "ids": [f"{east_id}/hrss"]}, f"district: 东城区 · sector: {HRSS}")]


def test_a_revoked_district_token_is_refused_everywhere(collector: Collector, city: City) -> None:
    headers = token(collector, "dongcheng-office", "--district", "东城区")
    assert get(collector, "/v1/units", headers).status_code == 200
    done = centre(collector, "token", "revoke", "dongcheng-office")
    assert done.returncode == 0 and done.stdout.strip().endswith("revoked"), done.stdout + done.stderr
    for path in READS:
        answer = get(collector, path, headers, unit="dc-1", date=DAY)
        assert answer.status_code == 401 and answer.json() == {"detail": "API token revoked"}, path


# -- pages and downloads ---------------------------------------------------------------


def test_lists_come_in_pages(collector: Collector, city: City) -> None:
    headers = token(collector, "data-platform")
    for path, key in (("/v1/integrity", "devices"), ("/v1/units", "units")):
        whole = get(collector, path, headers).json()
        assert (whole["total"], whole["offset"], whole["limit"], whole["next_offset"]) == (3, 0, 100, None)
        first = get(collector, path, headers, limit=2).json()
        assert (len(first[key]), first["total"], first["next_offset"]) == (2, 3, 2)
        rest = get(collector, path, headers, limit=2, offset=first["next_offset"]).json()
        assert (len(rest[key]), rest["next_offset"]) == (1, None)
        assert first[key] + rest[key] == whole[key]
        assert get(collector, path, headers, offset=7).json()[key] == []
        for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
            assert get(collector, path, headers, **bad).status_code == 422, (path, bad)
    # `ok` is the whole scope's, whichever page is shown.
    assert get(collector, "/v1/integrity", headers, limit=1, offset=2).json()["ok"] is True


def expected_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table docs/centre-api.md promises: nested keys dotted, lists as their JSON."""
    def flat(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in record.items():
            if isinstance(value, dict) and value:
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[prefix + key] = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
        return out
    return [flat(record) for record in records]


def as_csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return json.dumps(value)
    return "'" + value if isinstance(value, str) and value.startswith("=") else str(value)


def downloads(collector: Collector, path: str, headers: dict[str, str], **params: Any) -> tuple[
        list[dict[str, str]], list[dict[str, Any]]]:
    """The CSV and the xlsx of a read, parsed: one dict a row."""
    got_csv = get(collector, path, headers, format="csv", **params)
    assert got_csv.status_code == 200, got_csv.text
    assert got_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert got_csv.headers["content-disposition"].startswith('attachment; filename="')
    assert got_csv.content.startswith("\ufeff".encode())          # the BOM Excel needs for Chinese
    csv_rows = list(csv.DictReader(io.StringIO(got_csv.content.decode("utf-8-sig"), newline="")))
    got_xlsx = get(collector, path, headers, format="xlsx", **params)
    assert got_xlsx.status_code == 200 and got_xlsx.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(got_xlsx.content)).worksheets[0]
    cells = list(sheet.iter_rows(values_only=True))
    xlsx_rows = [dict(zip(cells[0], row, strict=True)) for row in cells[1:]]
    return csv_rows, xlsx_rows


def test_every_read_downloads_as_csv_and_xlsx_matching_the_json(collector: Collector, city: City) -> None:
    place(collector, "dc-2", "东城区", "education", name="=1+1 东城教育")     # text a spreadsheet must not run
    headers = token(collector, "dongcheng-office", "--district", "东城区")
    for path, params, key in (("/v1/reports/summary", {"unit": "dc-1", "date": DAY}, None),
                              ("/v1/indicators", {"date": DAY, "period": "month"}, None),
                              ("/v1/integrity", {}, "devices"), ("/v1/units", {}, "units")):
        body = get(collector, path, headers, **params).json()
        records = body[key] if key else [body]
        expected = expected_rows(records)
        csv_rows, xlsx_rows = downloads(collector, path, headers, **params)
        assert len(expected) == len(csv_rows) == len(xlsx_rows) == (2 if key else 1), path
        for want, from_csv, from_xlsx in zip(expected, csv_rows, xlsx_rows, strict=True):
            assert list(from_csv) == list(want) == list(from_xlsx), path
            assert from_csv == {column: as_csv_text(value) for column, value in want.items()}, path
            # A spreadsheet has no empty text: "" and null are both an empty cell (as in the CSV).
            assert from_xlsx == {column: None if value == "" else value for column, value in want.items()}, path
    summary_csv, _ = downloads(collector, "/v1/reports/summary", headers, unit="dc-1", date=DAY)
    assert (summary_csv[0]["total"], summary_csv[0]["by_level.5"], summary_csv[0]["by_level.1"]) == ("2", "1", "1")
    figures_csv, figures_xlsx = downloads(collector, "/v1/indicators", headers, date=DAY)
    assert (figures_xlsx[0]["rated"], figures_xlsx[0]["scope"], figures_xlsx[0]["too_few"]) == (5, "district: 东城区",
                                                                                                 True)
    assert json.loads(figures_csv[0]["unit_ids"]) == ["dc-1", "dc-2"]
    units_csv, units_xlsx = downloads(collector, "/v1/units", headers)
    assert units_csv[1]["name"] == "'=1+1 东城教育" and units_xlsx[1]["name"] == "=1+1 东城教育"
    # Outside the scope, a download is refused like the JSON.
    assert get(collector, "/v1/reports/summary", headers, unit="xc-1", date=DAY, format="csv").status_code == 403
    assert get(collector, "/v1/indicators", headers, format="pdf").status_code == 422


def test_a_download_is_the_whole_list_unless_a_limit_is_given(collector: Collector, city: City) -> None:
    headers = token(collector, "data-platform")
    whole_csv, whole_xlsx = downloads(collector, "/v1/integrity", headers)
    assert len(whole_csv) == len(whole_xlsx) == 3
    page_csv, page_xlsx = downloads(collector, "/v1/integrity", headers, limit=1, offset=1)
    assert page_csv == whole_csv[1:2] and page_xlsx == whole_xlsx[1:2]


def test_the_openapi_document_declares_scopes_downloads_and_pages(collector: Collector) -> None:
    document = requests.get(collector.url + "/openapi.json", timeout=TIMEOUT).json()
    for path in READS:
        operation = document["paths"][path]["get"]
        assert operation["security"] == [{"ApiToken": []}], path
        content = operation["responses"]["200"]["content"]
        assert {"application/json", "text/csv", XLSX} <= set(content), path
        names = {parameter["name"]: parameter for parameter in operation["parameters"]}
        assert names["format"]["schema"]["$ref"].endswith("/Format") or "enum" in names["format"]["schema"], path
    formats = document["components"]["schemas"]["Format"]["enum"]
    assert formats == ["json", "csv", "xlsx"]
    for path in ("/v1/integrity", "/v1/units"):
        names = {parameter["name"] for parameter in document["paths"][path]["get"]["parameters"]}
        assert {"limit", "offset"} <= names, path
    indicators = {parameter["name"] for parameter in document["paths"]["/v1/indicators"]["get"]["parameters"]}
    assert {"unit", "district", "sector"} <= indicators
    assert "districts" in document["components"]["securitySchemes"]["ApiToken"]["description"]


def test_a_rating_counts_once_however_the_city_is_cut(collector: Collector, city: City) -> None:
    """The districts' figures add up to the city's, and so do the sectors'."""
    headers = token(collector, "data-platform")
    city_rated = get(collector, "/v1/indicators", headers, date=DAY).json()["rated"]
    by_district = [get(collector, "/v1/indicators", headers, date=DAY, district=name).json()["rated"]
                   for name in ("东城区", "西城区")]
    by_sector = [get(collector, "/v1/indicators", headers, date=DAY, sector=code).json()["rated"]
                 for code in ("hrss", "education")]
    assert sum(by_district) == sum(by_sector) == city_rated == 9
