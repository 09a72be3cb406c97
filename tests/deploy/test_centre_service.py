"""The centre as a service (docs/operator-guide.md, "Running the centre"): its systemd units verify clean at
their installed place, and what they say runs. No systemd runs here (PID 1 is not systemd), so the test does
what systemd would: it reads the unit's ExecStart= and its EnvironmentFile= (the shipped example, the database
URL set to a real PostgreSQL scratch database), starts that command line as it stands (the release's
`evaluator` is this checkout's, the config the shipped example, the port a free one), asks /healthz, and stops
it with SIGTERM, as `systemctl stop` does. Also: the wheel `make wheel` builds carries the console's front-end
packages, which the console needs and a plain `pip wheel .` of a fresh clone would leave out.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.centre.conftest import free_port, pg_url_or_skip, scratch_pg_database

from .conftest import DEPLOY, REPO, directives, require

UNITS = ("evaluator-centre.service", "evaluator-province-push.service")
HOST_UNITS = Path("/usr/lib/systemd/system")
APP = "/opt/evaluator/current/bin/evaluator"
CONFIG = "/etc/evaluator/centre.yaml"
ENV_FILE = "/etc/evaluator/centre.env"


def service(unit: str, key: str) -> str:
    [value] = [value for section, found, value in directives(DEPLOY / "systemd" / unit)
               if (section, found) == ("Service", key)]
    return value


def environment_file(path: Path) -> dict[str, str]:
    """VAR=value lines, as systemd's EnvironmentFile= reads them (comments and blank lines skipped)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def command_line(unit: str, config: Path, port: int | None = None) -> list[str]:
    """The unit's ExecStart as it stands, run from this checkout: its app, config and (given) port put in place."""
    argv = shlex.split(service(unit, "ExecStart"))
    assert argv[0] == APP and CONFIG in argv, argv
    argv = [str(Path(sys.executable).with_name("evaluator")), *argv[1:]]
    argv[argv.index(CONFIG)] = str(config)
    if port is not None:
        argv[argv.index("--port") + 1] = str(port)
    return argv


def test_the_centre_units_verify_clean_where_they_are_installed(tmp_path: Path) -> None:
    analyze = require("systemd-analyze")
    root = tmp_path / "root"
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(DEPLOY / "systemd" / unit, root / "etc/systemd/system" / unit)     # as shipped
    app = root / APP.lstrip("/")
    app.parent.mkdir(parents=True)
    app.write_text("#!/bin/sh\nexit 0\n")
    app.chmod(0o755)
    done = subprocess.run([analyze, "verify", f"--root={root}", *UNITS], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr
    for unit in UNITS:
        assert service(unit, "EnvironmentFile") == ENV_FILE and service(unit, "User") == "evaluator-centre"


@pytest.fixture
def database() -> str:
    url = pg_url_or_skip("the service runs --workers 2, on PostgreSQL")
    with scratch_pg_database(url) as scratch:
        yield scratch


def test_the_centre_service_starts_from_its_unit_and_stops_on_sigterm(database: str, tmp_path: Path) -> None:
    env = environment_file(DEPLOY / "centre.env.example")
    assert set(env) >= {"EVALUATOR_CENTRE_DB", "EVALUATOR_SMTP_PASSWORD", "EVALUATOR_WEBHOOK_SECRET"}
    env["EVALUATOR_CENTRE_DB"] = database
    config = tmp_path / "centre.yaml"
    shutil.copy(DEPLOY / "centre.example.yaml", config)
    port = free_port()
    argv = command_line("evaluator-centre.service", config, port)
    assert "--db" not in argv          # the URL (and its password) come from the environment alone
    process = subprocess.Popen(argv, cwd=tmp_path, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        health = _healthy(f"http://127.0.0.1:{port}/healthz", process)
        assert health["status"] == "ok" and health["database"] == "ok"
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()   # what `ps` shows everybody
        assert "postgresql" not in cmdline and str(config) in cmdline
        stop_s = float(service("evaluator-centre.service", "TimeoutStopSec"))
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=stop_s) == 0      # within the unit's stop timeout, and cleanly
        assert time.monotonic() - started < stop_s
    finally:
        if process.poll() is None:
            process.kill()
        _, log = process.communicate(timeout=30)
    assert "Application startup complete" in log and '"level"' in log     # --log-format json, as the unit says


def _healthy(url: str, process: subprocess.Popen[str]) -> dict[str, str]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the centre ended at its start:\n{process.communicate()[1]}")
        try:
            answer = requests.get(url, timeout=5)
            if answer.status_code == 200:
                return dict(answer.json())
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("the centre did not answer /healthz within 90 s")


def test_the_province_push_unit_refuses_a_config_that_reports_to_no_province(tmp_path: Path) -> None:
    env = {**environment_file(DEPLOY / "centre.env.example"),
           "EVALUATOR_CENTRE_DB": f"sqlite:///{tmp_path / 'centre.db'}"}
    config = tmp_path / "centre.yaml"
    shutil.copy(DEPLOY / "centre.example.yaml", config)
    done = subprocess.run(command_line("evaluator-province-push.service", config), cwd=tmp_path,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "province.enabled is false" in done.stderr, done.stderr


def test_the_wheel_carries_the_consoles_front_end_packages(tmp_path: Path) -> None:
    vendor = REPO / "centre/console/static/vendor"
    if not (vendor / "echarts.min.js").is_file():
        pytest.fail("centre/console/static/vendor is empty: `make frontend` (part of make setup) fills it")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("satisfaction_evaluator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"centre/console/static/vendor/echarts.min.js", "centre/console/static/vendor/htmx.min.js",
            "centre/console/templates/base.html", "centre/db/migrations/versions/0001_collector_release.py"} <= names
