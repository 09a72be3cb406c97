"""The city config file: defaults without one, the documented example, errors that name the file and the field,
secrets only by the name of their environment variable, and how `serve --config` carries it to the workers."""
from __future__ import annotations

import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from centre import cityconfig
from centre.alerts.settings import SmtpSecurity, WebhookSigning
from centre.api.limits import BodyLimits
from centre.cases.model import ActorRole
from centre.cityconfig import CityConfig, CityConfigError
from centre.integrity.settings import IntegritySettings
from centre.serving import ENV_CONFIG, FORM_OVERHEAD_BYTES, ServeOptions
from tests.centre.conftest import REPO

EXAMPLE = REPO / "deploy" / "centre.example.yaml"


def problems(path: Path, text: str) -> list[str]:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CityConfigError) as raised:
        cityconfig.load(path)
    return raised.value.message.splitlines()


def test_without_a_file_the_provincial_rules_with_alerts_off(tmp_path: Path):
    default = ServeOptions("sqlite://").city()
    assert default == cityconfig.DEFAULT == CityConfig()
    assert default.cases.contact_working_days == 1 and default.cases.rectify_working_days == 15
    assert not default.alerts.smtp.enabled and not default.alerts.webhook.enabled
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert cityconfig.load(tmp_path / "empty.yaml") == CityConfig()


def test_the_documented_example_loads_with_its_secrets_in_the_environment(monkeypatch):
    monkeypatch.setenv("EVALUATOR_SMTP_PASSWORD", "p")
    monkeypatch.setenv("EVALUATOR_WEBHOOK_SECRET", "s")
    config = cityconfig.load(EXAMPLE)
    assert config.alerts.smtp.security is SmtpSecurity.STARTTLS and config.alerts.smtp.password() == "p"
    assert config.alerts.webhook.signing is WebhookSigning.HMAC and config.alerts.webhook.secret() == "s"
    assert config.alerts.digest.at_local == time(8, 30) and config.alerts.digest.district_emails["东城区"]
    assert config.cases.caller_role is ActorRole.DISTRICT
    assert config.alerts.case_link(7) == "https://pingjia.example.gov.cn/console/cases/7"


def test_a_secret_named_but_not_set_stops_the_start(monkeypatch):
    monkeypatch.delenv("EVALUATOR_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("EVALUATOR_WEBHOOK_SECRET", "s")
    with pytest.raises(CityConfigError) as raised:
        cityconfig.load(EXAMPLE)
    assert raised.value.message == (f"{EXAMPLE}: alerts.smtp.password_env: the environment variable "
                                    "EVALUATOR_SMTP_PASSWORD is not set")


def test_each_error_names_the_file_and_the_field(tmp_path: Path):
    path = tmp_path / "centre.yaml"
    found = problems(path, "cases:\n  rectify_working_days: 0\n  caller_role: unit\nalerts:\n  smtp:\n"
                           "    port: 70000\n    security: ssl\n    password: hunter2\n  webhook:\n    url: ftp://x\n"
                           "  digest:\n    at_local: '25:00'\n    city_emails: [nobody]\n")
    assert found == [
        f"{path}: cases.rectify_working_days: Input should be greater than or equal to 1 (got 0)",
        f"{path}: cases.caller_role: must be district or city: the unit reviewed never calls the citizen back",
        f"{path}: alerts.smtp.port: Input should be less than or equal to 65535 (got 70000)",
        f"{path}: alerts.smtp.security: Input should be 'none', 'starttls' or 'tls' (got 'ssl')",
        f"{path}: alerts.smtp.password: unknown setting (a secret never goes in the file: name its environment "
        "variable instead)",
        f"{path}: alerts.webhook.url: an http:// or https:// URL, got 'ftp://x'",
        f"{path}: alerts.digest.at_local: Input should be in a valid time format, hour value is outside expected "
        "range of 0-23 (got '25:00')",
        f"{path}: alerts.digest.city_emails: not an e-mail address: 'nobody'",
    ]


def test_a_check_across_fields_names_its_field(tmp_path: Path):
    path = tmp_path / "centre.yaml"
    assert problems(path, "alerts:\n  smtp: {enabled: true, username: pingjia}\n") == [
        f"{path}: alerts.smtp.password_env: a username needs the name of the environment variable that holds "
        "its password"]
    assert problems(path, "alerts:\n  smtp: {username: u, password_env: P, security: none}\n") == [
        f"{path}: alerts.smtp.security: a login (username) over plain SMTP would send the password in clear; "
        "use starttls or tls"]
    assert problems(path, "alerts:\n  webhook: {url: 'https://robot.test/x', signing: hmac}\n") == [
        f"{path}: alerts.webhook.secret_env: signing hmac needs the name of the environment variable that holds "
        "the secret"]
    assert problems(path, "alerts:\n  retry: {first_backoff_s: 60, max_backoff_s: 10}\n") == [
        f"{path}: alerts.retry.max_backoff_s: must be at least first_backoff_s"]
    assert problems(path, "alerts:\n  smtp: {password_env: 'my password'}\n")[0].startswith(
        f"{path}: alerts.smtp.password_env: the name of an environment variable")


def test_a_file_that_is_not_a_config(tmp_path: Path):
    path = tmp_path / "centre.yaml"
    assert problems(path, "alerts: [\n")[0].startswith(f"{path}: line 2: not valid YAML")
    assert problems(path, "- cases\n") == [f"{path}: must be a mapping (cases:, alerts:, public:, province:, "
                                           "integrity:), got list"]
    assert problems(path, "city: x\n") == [f"{path}: city: unknown setting"]
    with pytest.raises(CityConfigError, match=r"nowhere\.yaml: no such file"):
        cityconfig.load(tmp_path / "nowhere.yaml")


def test_a_bare_yaml_time_is_read_as_the_time_meant(tmp_path: Path):
    """YAML 1.1 reads an unquoted 8:30 as the sexagesimal number 510."""
    path = tmp_path / "centre.yaml"
    path.write_text("alerts:\n  digest:\n    at_local: 8:30\n", encoding="utf-8")
    assert cityconfig.load(path).alerts.digest.at_local == time(8, 30)


def test_serve_refuses_a_bad_file_before_it_starts(tmp_path: Path):
    path = tmp_path / "centre.yaml"
    path.write_text("alerts:\n  smtp:\n    port: 0\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "centre.cli", "serve", "--db", f"sqlite:///{tmp_path / 'c.db'}",
                           "--config", str(path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"error: {path}: alerts.smtp.port: Input should be greater than or equal to 1 (got 0)\n"
    assert not (tmp_path / "c.db").exists()


def test_serve_refuses_an_evidence_cap_the_body_limit_cannot_carry(tmp_path: Path):
    path = tmp_path / "centre.yaml"
    path.write_text(f"cases:\n  evidence_max_bytes: {9 * 1024 * 1024}\n", encoding="utf-8")
    serve = [sys.executable, "-m", "centre.cli", "serve", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--config",
             str(path)]
    done = subprocess.run(serve, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cases.evidence_max_bytes (9437184 bytes) does not fit in the request body limit (8388608 bytes" \
        in done.stderr and "raise --max-body-mib" in done.stderr
    assert not (tmp_path / "c.db").exists()


def test_the_workers_get_the_file_through_the_environment(tmp_path: Path, monkeypatch):
    path = tmp_path / "centre.yaml"
    path.write_text("cases:\n  rectify_working_days: 10\n", encoding="utf-8")
    options = ServeOptions(f"sqlite:///{tmp_path / 'c.db'}", config_path=str(path))
    env = options.to_env()
    assert env[ENV_CONFIG] == str(path) and ServeOptions.from_env(env) == options
    assert ENV_CONFIG not in ServeOptions("sqlite://").to_env()
    monkeypatch.setattr("centre.serving.freeze_start_up", lambda: None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from centre.serving import app_from_env

    try:
        app = app_from_env()
        assert app.state.city.cases.rectify_working_days == 10
        assert cityconfig.current() is app.state.city   # what ingest's case opening reads
    finally:
        cityconfig.install(cityconfig.DEFAULT)


def test_a_smaller_body_limit_lowers_the_default_evidence_cap_to_what_fits() -> None:
    small = BodyLimits(body=1024 * 1024, inflated=2 * 1024 * 1024)
    fitted = ServeOptions("sqlite:///unused.db", small).city().cases.evidence_max_bytes
    assert fitted == small.body - FORM_OVERHEAD_BYTES      # the default, fitted: a file under it always gets through
    assert ServeOptions("sqlite:///unused.db").city().cases.evidence_max_bytes == 6 * 1024 * 1024


def test_the_integrity_signals_thresholds_come_from_the_file(tmp_path: Path):
    """The nightly run and `integrity analyse --config` read the signals' settings from the city's file; a
    threshold out of its range or unknown is refused, naming the file and the field."""
    path = tmp_path / "centre.yaml"
    path.write_text("integrity:\n  grace_minutes: 45\n  no_staff_min_ratings: 8\n", encoding="utf-8")
    loaded = cityconfig.load(path).integrity
    assert (loaded.grace_minutes, loaded.no_staff_min_ratings) == (45, 8)
    assert loaded.silence_day_p == IntegritySettings().silence_day_p       # the rest stay the documented ones
    assert problems(path, "integrity:\n  grace_minutes: 600\n  silence_threshold: 3\n") == [
        f"{path}: integrity.grace_minutes: Input should be less than or equal to 240 (got 600)",
        f"{path}: integrity.silence_threshold: unknown setting",
    ]
