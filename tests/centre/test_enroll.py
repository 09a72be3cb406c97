"""Enrollment: a one-time code becomes a device id, a secret and the centre's config."""
from __future__ import annotations

import re
from datetime import timedelta

import requests

from tests.centre.conftest import TIMEOUT, ago


def post_enroll(collector, code: str) -> requests.Response:
    return requests.post(collector.url + "/v1/enroll", json={"code": code, "app_version": "0.1.0"},
                         timeout=TIMEOUT)


def test_code_from_the_cli_enrolls_once(collector):
    collector.register("u-cli", "c-7")
    made = collector.cli("enroll-code", "--unit", "u-cli", "--counter", "c-7", "--unit-name", "东城政务中心",
                         "--counter-name", "7号窗口", "--timezone", "Asia/Shanghai")
    assert made.returncode == 0, made.stderr
    code = made.stdout.strip()
    assert re.fullmatch(r"[A-Z2-9]{10}", code)

    first = post_enroll(collector, code)
    assert first.status_code == 200, first.text
    body = first.json()
    assert re.fullmatch(r"dev-[0-9a-f]{10}", body["device_id"])
    assert len(body["secret"]) >= 40
    assert body["config"] == {"unit": {"id": "u-cli", "name": "东城政务中心", "timezone": "Asia/Shanghai"},
                              "counter": {"id": "c-7", "name": "7号窗口"}, "staff": []}

    again = post_enroll(collector, code)
    assert again.status_code == 410
    assert "used" in again.json()["detail"]


def test_expired_code_is_gone(collector):
    code = collector.code("u-exp", "c-1", ttl=timedelta(hours=1), now=ago(hours=2))
    answer = post_enroll(collector, code)
    assert answer.status_code == 410
    assert "expired" in answer.json()["detail"]


def test_unknown_code_is_not_found(collector):
    answer = post_enroll(collector, "NOSUCHCODE")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "unknown enrollment code"}


def test_malformed_body_is_422_with_a_detail(collector):
    for body in ({"code": "abc"}, {"code": 5, "app_version": "x"}, []):
        answer = requests.post(collector.url + "/v1/enroll", json=body, timeout=TIMEOUT)
        assert answer.status_code == 422
        assert isinstance(answer.json()["detail"], str)
    answer = requests.post(collector.url + "/v1/enroll", data=b"{not json", timeout=TIMEOUT,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 422


def test_cli_refuses_bad_input_without_a_traceback(collector):
    for args in (("enroll-code", "--unit", "u", "--counter", "c", "--timezone", "Mars/Olympus"),
                 ("enroll-code", "--unit", "u", "--counter", "c", "--ttl-hours", "0"),
                 ("revoke", "dev-nosuchdevice"),
                 ("summary", "--unit", "never-heard-of"),
                 ("summary", "--unit", "u", "--date", "2026-02-30")):
        result = collector.cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "error" in result.stderr
