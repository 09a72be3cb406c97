"""The systemd units: what they say, and systemd-analyze verify on them as installed.

`systemd-analyze verify --root=DIR` checks the units at their installed place
in a staging root made by install.sh, with the unit text unchanged. It needs
the standard units (sysinit.target, …) inside that root: they are copied from
this machine's systemd. The app's executable does not exist in a --no-venv
tree, so an executable script stands in for /opt/evaluator/current/bin/evaluator
(verify only checks that ExecStart= names an executable). No running systemd
is needed: this works in a container whose PID 1 is not systemd.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, directives, install, require

SYSTEMD = REPO / "deploy/systemd"
HOST_UNITS = Path("/usr/lib/systemd/system")


def values(path: Path, section: str, key: str) -> list[str]:
    return [v for s, k, v in directives(path) if (s, k) == (section, key)]


def systemd_version() -> int:
    analyze = require("systemd-analyze")
    out = subprocess.run([analyze, "--version"], capture_output=True, text=True, check=True).stdout
    return int(re.match(r"systemd (\d+)", out).group(1))


@pytest.fixture
def verify_root(tmp_path: Path):
    """A staging root with the units installed, the host's standard units, and a stand-in app."""
    analyze = require("systemd-analyze")
    if not HOST_UNITS.is_dir():
        pytest.fail(f"{HOST_UNITS} is missing: systemd-analyze is installed without systemd's units")
    root = tmp_path / "root"
    install(root, "--no-venv")
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    app = root / "opt/evaluator/current/bin/evaluator"
    app.parent.mkdir(parents=True)
    app.write_text("#!/bin/sh\nexit 0\n")
    app.chmod(0o755)

    def verify(*units: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([analyze, "verify", f"--root={root}", *units], capture_output=True, text=True,
                              check=False)

    verify.root = root
    return verify


def test_both_units_verify_clean(verify_root) -> None:
    result = verify_root("evaluator-kiosk.service", "evaluator-sync.service")
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
    for unit in ("evaluator-kiosk.service", "evaluator-sync.service"):  # verified as shipped
        assert (verify_root.root / "etc/systemd/system" / unit).read_bytes() == (SYSTEMD / unit).read_bytes()


def test_verify_reports_a_broken_unit(verify_root) -> None:
    """The check above can fail: a typo in a key, or a missing executable, is reported."""
    unit = verify_root.root / "etc/systemd/system/evaluator-sync.service"
    unit.write_text(unit.read_text().replace("RestartSec=30", "RestartSecs=30"))
    assert "Unknown key" in verify_root("evaluator-sync.service").stderr
    (verify_root.root / "opt/evaluator/current/bin/evaluator").unlink()
    result = verify_root("evaluator-kiosk.service")
    assert result.returncode != 0 and "not executable" in result.stderr


def test_x11_dropin_verifies(verify_root) -> None:
    dropin = verify_root.root / "etc/systemd/system/evaluator-kiosk.service.d/x11.conf"
    dropin.parent.mkdir()
    shutil.copy(SYSTEMD / "x11.conf", dropin)
    (verify_root.root / "usr/bin").mkdir(parents=True)
    for name in ("env", "xinit"):  # stand in for coreutils and the xinit package; verify checks the first word
        program = verify_root.root / "usr/bin" / name
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    result = verify_root("evaluator-kiosk.service")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_x11_dropin_keeps_the_hardening_and_the_watchdog() -> None:
    dropin = SYSTEMD / "x11.conf"
    command = shlex.split(values(dropin, "Service", "ExecStart")[-1])
    # systemd's WATCHDOG_PID names xinit: the app must not inherit it, or it never pings (tests/kiosk/test_watchdog.py).
    assert command[:4] == ["/usr/bin/env", "-u", "WATCHDOG_PID", "/usr/bin/xinit"]
    assert values(dropin, "Service", "NotifyAccess") == ["all"]  # the pings come from xinit's child
    # Rootless Xorg: the real server, not /usr/bin/Xorg (the setuid wrapper when xserver-xorg-legacy is there),
    # and nothing of the unit's hardening undone: it implies NoNewPrivileges, which no wrapper could get around.
    assert command[command.index("--") + 1] == "/usr/lib/xorg/Xorg" and "-keeptty" in command
    assert {key for _section, key, _value in directives(dropin)} == {"Environment", "NotifyAccess", "ExecStart"}
    kiosk = SYSTEMD / "evaluator-kiosk.service"
    assert values(kiosk, "Service", "User") == ["evaluator"] and values(kiosk, "Service", "TTYPath") == ["/dev/tty1"]
    assert values(kiosk, "Service", "StandardInput") == ["tty-fail"]  # systemd gives tty1 to the user: Xorg opens it


def test_restart_backoff_keys_need_systemd_254(verify_root) -> None:
    """Debian 12 has systemd 252, which ignores RestartSteps=: the installer adds them only from 254."""
    dropin = verify_root.root / "etc/systemd/system/evaluator-sync.service.d/restart-backoff.conf"
    dropin.parent.mkdir()
    shutil.copy(SYSTEMD / "restart-backoff.conf", dropin)
    result = verify_root("evaluator-sync.service")
    if systemd_version() >= 254:
        assert result.returncode == 0 and result.stderr == "", result.stderr
    else:
        assert "Unknown key 'RestartSteps'" in result.stderr
    install_sh = (REPO / "deploy/install.sh").read_text()
    assert re.search(r"^BACKOFF_MIN_SYSTEMD=254\b", install_sh, re.MULTILINE)


@pytest.mark.parametrize("unit", ["evaluator-kiosk.service", "evaluator-sync.service"])
def test_units_run_the_app_hardened(unit: str) -> None:
    path = SYSTEMD / unit
    command = "run" if "kiosk" in unit else "sync"
    assert values(path, "Service", "ExecStart") == [
        f"/opt/evaluator/current/bin/evaluator {command} --config /etc/evaluator/config.yaml"]
    expected = {"User": "evaluator", "Restart": "always", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                "PrivateTmp": "yes", "ProtectHome": "yes"}
    for key, value in expected.items():
        assert values(path, "Service", key) == [value], key
    writable = " ".join(values(path, "Service", "ReadWritePaths")).split()
    assert {"/var/lib/evaluator", "/etc/evaluator/secrets"} <= set(writable)
    assert set(writable) <= {"/var/lib/evaluator", "/etc/evaluator/secrets", "-/media"}
    assert values(path, "Install", "WantedBy") == ["multi-user.target"]
    assert not values(path, "Service", "StandardOutput") or values(path, "Service", "StandardOutput") == ["journal"]


def test_kiosk_unit_owns_the_console_with_a_watchdog() -> None:
    path = SYSTEMD / "evaluator-kiosk.service"
    for key, value in {"Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30", "RestartSec": "2",
                       "TTYPath": "/dev/tty1", "StandardInput": "tty-fail", "StandardOutput": "journal",
                       "StandardError": "journal"}.items():
        assert values(path, "Service", key) == [value], key
    groups = set(values(path, "Service", "SupplementaryGroups")[0].split())
    assert groups == {"dialout", "video", "render", "input", "audio"}
    env = dict(v.split("=", 1) for v in values(path, "Service", "Environment"))
    assert env["KIVY_HOME"] == "/var/lib/evaluator/kivy" and env["SDL_VIDEODRIVER"] == "kmsdrm"
    assert "getty@tty1.service" in values(path, "Unit", "Conflicts")[0].split()
    assert "systemd-user-sessions.service" in values(path, "Unit", "After")[0].split()


def test_sync_unit_restart_delay_without_and_with_backoff() -> None:
    """systemd 252 (Debian 12, Pi OS Bookworm) only knows a flat delay: long enough not to spin on a
    worker that exits at every start; from 254 on the drop-in grows it from 5 s to 5 min."""
    path = SYSTEMD / "evaluator-sync.service"
    assert values(path, "Service", "RestartSec") == ["30"]
    dropin = SYSTEMD / "restart-backoff.conf"
    assert [values(dropin, "Service", key) for key in ("RestartSec", "RestartSteps", "RestartMaxDelaySec")] == [
        ["5"], ["6"], ["300"]]
    assert "network-online.target" in values(path, "Unit", "After")[0].split()
