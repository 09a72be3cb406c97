"""The mapping file (centre/province/mapping.py): the shipped one loads and covers the terminal's reasons; a bad
file is refused with a message naming the file and the field."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from centre.errors import BadInput
from centre.province.mapping import DEFAULT_MAPPING, PerCase, UnratedMode, WithoutCase, load_mapping
from kiosk.config.citizen import default_reasons
from tests.conftest import REPO


def test_the_shipped_mapping_covers_the_terminal_and_reports_no_unrated_request() -> None:
    mapping = load_mapping(None)
    assert mapping.fields.model_dump() == {
        "record_id": "appraiseId", "case_no": "projectNo", "item_code": "taskCode", "channel": "pf",
        "level": "alternate", "reason_codes": "appraisald", "reason_text": "appraisaldetail",
        "evaluated_at": "assessTime", "evaluation_number": "assessNumber", "credit_code": "deptCode",
        "region_code": "areaCode", "staff": "windowUser"}
    assert mapping.channel_code == "4" and mapping.channel_of("panel") == "5" and mapping.channel_of("touch") == "4"
    assert mapping.levels == {1: "1", 2: "2", 3: "3", 4: "4", 5: "5"}
    terminal = {reason.code for reason in default_reasons()}
    shipped = {entry["code"] for entry in yaml.safe_load((REPO / "config.yaml").read_text())["bad_reasons"]}
    assert terminal == shipped == set(mapping.reasons)            # every reason the terminal offers has a code
    assert mapping.unrated.mode is UnratedMode.OMIT and mapping.per_case is PerCase.FIRST_ONLY
    assert mapping.without_case is WithoutCase.SKIP and mapping.time_format == "%Y-%m-%d %H:%M:%S"
    assert "modelled on" in DEFAULT_MAPPING.read_text(encoding="utf-8").lower()


def write(tmp_path: Path, **changes: Any) -> Path:
    raw = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    path = tmp_path / "province.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("changes", "words"), [
    ({"levels": {1: "1", 2: "2", 4: "4", 5: "5"}}, "levels: Value error, needs exactly the levels 1–5"),
    ({"levels": {1: "1", 2: "1", 3: "3", 4: "4", 5: "5"}}, "two levels share a code"),
    ({"unrated": {"mode": "report"}}, "unrated: Value error, mode report needs the code"),
    ({"unrated": {"mode": "report", "code": "5"}}, "unrated.code '5' is a level's code"),
    ({"unrated": {"mode": "sometimes"}}, "unrated.mode: Input should be 'omit' or 'report'"),
    ({"per_case": "all"}, "per_case: Input should be 'first_only' or 'numbered'"),
    ({"channel_code": "9"}, "channel code(s) 9 not among known_channels"),
    ({"fields": {**yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))["fields"], "level": "pf"}},
     "each field needs its own name; used twice: pf"),
    ({"channel_code": None}, "channel_code: Field required"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"limits": {"case_no": {"pattern": "(["}}}, "limits.case_no.pattern: Value error, not a regular expression"),
    ({"limits": {"phone": {"max_length": 3}}}, "limits.phone.[key]: Input should be 'record_id'"),
])
def test_a_bad_mapping_is_refused_naming_the_file_and_the_field(tmp_path: Path, changes: dict[str, Any],
                                                                words: str) -> None:
    path = write(tmp_path, **changes)
    with pytest.raises(BadInput) as refused:
        load_mapping(path)
    assert refused.value.message.startswith(f"{path}: ")
    assert words in refused.value.message


def test_a_file_that_is_no_mapping_is_refused(tmp_path: Path) -> None:
    missing, broken, listed = tmp_path / "missing.yaml", tmp_path / "broken.yaml", tmp_path / "listed.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    listed.write_text("- name\n- version\n", encoding="utf-8")
    for path, words in ((missing, "cannot read the mapping"), (broken, "not valid YAML"),
                        (listed, "a YAML mapping of its sections")):
        with pytest.raises(BadInput, match=words) as refused:
            load_mapping(path)
        assert str(path) in refused.value.message
