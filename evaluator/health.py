"""The defaults `evaluator upgrade` passes to upgrade(): restarting the terminal's services through systemd, and
checking a release's health (its own `evaluator status`, and services that keep running)."""
from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

# One logger for the whole upgrade, whichever module speaks: its lines read as one story in the journal.
log = logging.getLogger("evaluator.upgrade")

DEFAULT_CONFIG = Path("/etc/evaluator/config.yaml")
SERVICES = ("evaluator-kiosk", "evaluator-sync")
SERVICE_USER = "evaluator"


def restart_services(units: Sequence[str] = SERVICES, timeout_s: float = 180) -> None:
    """`systemctl restart` the terminal's services; raises CalledProcessError when systemd reports a failure.

    With `Type=notify` units this returns only once each service has sent
    READY=1 (kiosk.devices.sdnotify), so a release that cannot start fails here already.
    """
    subprocess.run(["systemctl", "restart", *units], check=True, timeout=timeout_s,
                   capture_output=True, text=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def services_steady(units: Sequence[str] = SERVICES, timeout_s: float = 30) -> str | None:
    """None when every unit is active and systemd has not had to restart it since it was last started
    (NRestarts counts the restarts after a crash, and `systemctl restart` sets it back to 0); else what
    is wrong. A release whose screen dies a few seconds after it said READY shows here, not in status."""
    for unit in units:
        try:
            done = subprocess.run(["systemctl", "show", "--property=ActiveState", "--property=NRestarts", unit],
                                  check=True, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot ask systemd about {unit}: {exc}"
        fields = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        state, restarts = fields.get("ActiveState", "unknown"), fields.get("NRestarts", "0")
        if state != "active":
            return f"{unit} is {state}"
        if restarts != "0":
            return f"{unit} crashed and was restarted {restarts} time(s) since the upgrade restarted it"
    return None


def check_health(release: Path, *, config: Path | None = DEFAULT_CONFIG, timeout_s: float = 30,
                 services: Sequence[str] = ()) -> bool:
    """True when the release's own `evaluator status --json` exits 0 (see kiosk.store.status) and the `services`
    run steadily (services_steady)."""
    command = [str(release / "bin" / "evaluator"), "status", "--json"]
    if config is not None:
        command += ["--config", str(config)]
    if os.geteuid() == 0 and _user_exists(SERVICE_USER):
        # As the service user: a root-run check would create the store's -wal/-shm files
        # owned by root, and the terminal could no longer write its own database.
        command = ["runuser", "-u", SERVICE_USER, "--", *command]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("health check %s: %s", " ".join(command), exc)
        return False
    if done.returncode != 0 and not _only_unplugged(done.stdout):
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        log.warning("health check of %s: exit %d: %s", release, done.returncode, detail[0])
        return False
    trouble = services_steady(services, timeout_s) if services else None
    if trouble is not None:
        log.warning("health check of %s: %s", release, trouble)
    return trouble is None


def _only_unplugged(report: str) -> bool:
    """The status report says the release is sound and only configured hardware is missing (a panel
    unplugged): that is no reason to roll the release back."""
    try:
        status = json.loads(report)
    except ValueError:
        return False
    if not isinstance(status, dict) or status.get("problems") != [] or not status.get("unplugged"):
        return False
    log.warning("health check: release sound; hardware missing: %s", "; ".join(map(str, status["unplugged"])))
    return True
