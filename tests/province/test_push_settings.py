"""The province's settings: the city config's `province:` section, the push command's options over it, and
the upload spec's codes that must agree."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

from centre import cityconfig
from centre.errors import BadInput
from centre.province.push import backoff_s
from centre.province.push_commands import settings_of
from centre.province.settings import ProvinceSettings
from centre.province.upload import ResultKind, UploadSpec


def _args(config: Path | None = None, **given: object) -> argparse.Namespace:
    values = {"config": config, "endpoint": None, "key_file": None, "key_id": None, "mapping": None, **given}
    return argparse.Namespace(**values)


def test_the_city_config_carries_the_province_section(tmp_path):
    path = tmp_path / "centre.yaml"
    path.write_text("province:\n  enabled: true\n  endpoint_url: https://hcp.example.gov.cn/api\n"
                    "  key_file: /etc/evaluator/province.key\n  batch_size: 50\n  read_timeout_s: 12\n")
    loaded = cityconfig.load(path).province
    assert (loaded.enabled, loaded.batch_size, loaded.read_timeout_s) == (True, 50, 12.0)
    assert cityconfig.DEFAULT.province == ProvinceSettings() and not ProvinceSettings().enabled

    path.write_text("province:\n  enabled: true\n")
    with pytest.raises(cityconfig.CityConfigError, match=r"centre.yaml: province.endpoint_url: required when "
                                                         r"enabled is true"):
        cityconfig.load(path)
    path.write_text("province:\n  endpoint_url: ftp://x\n")
    with pytest.raises(cityconfig.CityConfigError, match=r"province\.endpoint_url: must be an http"):
        cityconfig.load(path)


def test_the_push_command_takes_the_file_and_its_options_over_it(tmp_path):
    path = tmp_path / "centre.yaml"
    path.write_text("province:\n  endpoint_url: https://a.example/api\n  key_file: /k\n  batch_size: 7\n")
    with pytest.raises(BadInput, match=r"province\.enabled is false"):
        settings_of(_args(path))
    chosen = settings_of(_args(path, endpoint="https://b.example/api"))
    assert (chosen.endpoint_url, chosen.key_file, chosen.batch_size) == ("https://b.example/api", Path("/k"), 7)
    with pytest.raises(BadInput, match="give --key-file"):
        settings_of(_args(endpoint="https://b.example/api"))
    with pytest.raises(BadInput, match="give --endpoint"):
        settings_of(_args(key_file=Path("/k")))


def test_the_backoff_is_full_jitter_below_a_capped_doubling():
    settings = ProvinceSettings(backoff_base_s=30, backoff_cap_s=3600)
    assert [backoff_s(settings, n, lambda: 1.0) for n in (1, 2, 3, 8, 50)] == [30, 60, 120, 3600, 3600]
    assert backoff_s(settings, 3, lambda: 0.5) == 60 and backoff_s(settings, 3, lambda: 0.0) == 0


def test_the_upload_codes_must_agree():
    spec = UploadSpec()
    assert [spec.outcome(code) for code in ("0", "1001", "5001", "2001", "E17")] == [
        ResultKind.ACCEPTED, ResultKind.ACCEPTED, ResultKind.RETRY, ResultKind.REFUSED, ResultKind.REFUSED]
    with pytest.raises(ValidationError, match="duplicate_code: '7' must be one of accepted_codes"):
        UploadSpec(duplicate_code="7")
    with pytest.raises(ValidationError, match="refused_code"):
        UploadSpec(refused_code="0")
