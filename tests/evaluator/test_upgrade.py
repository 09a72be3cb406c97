"""evaluator.upgrade with real wheels, real venvs, real pip and real symlinks in tmp_path.

Only `restart` is stood in for (systemd cannot run here): a plain callable
that records where `current` pointed when it was called. The health check is
the real `check_health`, running each release's own `bin/evaluator status`.
Each release that upgrade() builds is a full venv (~8 s, most of it
ensurepip), so only three tests build one; the others start from releases
set up the fast way (see installed_release, link_target_release).

The wheels are written with zipfile rather than `pip wheel`: the venv's
setuptools (65.5) cannot build wheels without the separate `wheel` package,
which is not installed, and an isolated `pip wheel` fetches setuptools and
wheel from an index for ~9 s per wheel. The files below are complete PEP 427
wheels (WHEEL, METADATA, entry points, a hashed RECORD) that pip installs as
it would any other.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from evaluator.upgrade import (
    SERVICES,
    WHEEL_DIGEST_FILE,
    Outcome,
    UpgradeError,
    UpgradeResult,
    WheelNameError,
    check_health,
    services_steady,
    upgrade,
    wheel_version,
)

DIST = "fake_evaluator"
NO_PYTHON = "/nonexistent/python3"   # upgrade() must not need an interpreter when it builds nothing

PACKAGE = '''\
import json, os, sys

VERSION, HEALTHY = {version!r}, {healthy!r}


def main():
    args = sys.argv[1:]
    if args[:2] != ["status", "--json"] or "--config" not in args:
        sys.exit("usage: evaluator status --json --config PATH")
    if not os.path.isfile(args[args.index("--config") + 1]):
        print("config not found", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({{"version": VERSION, "healthy": HEALTHY}}))
    sys.exit(0 if HEALTHY else 1)
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(house: Path, version: str, *, healthy: bool = True, requires: tuple[str, ...] = (),
                name: str | None = None) -> Path:
    """A pure-Python wheel whose `evaluator status` exits 0 when healthy, 1 when not."""
    info = f"{DIST}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: fake-evaluator\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{DIST}/__init__.py": PACKAGE.format(version=version, healthy=healthy),
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[console_scripts]\nevaluator = {DIST}:main\n",
    }
    path = house / (name or f"{DIST}-{version}-py3-none-any.whl")
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, text in files.items():
            archive.writestr(member, text.encode())
            record.append(_record_line(member, text.encode()))
        archive.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


def installed_release(base: Path, wheel: Path, *, make_current: bool) -> Path:
    """Set-up only: a release as an earlier upgrade would have left it, built the fast way.

    `--without-pip` plus the test runner's pip (`pip --python`) takes ~1 s
    instead of ~8 s; upgrade() itself always builds full venvs.
    """
    release = base / "releases" / wheel_version(wheel)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(release)], check=True, timeout=60)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(release / "bin" / "python"), "install",
                    "--quiet", "--no-index", "--no-deps", str(wheel)], check=True, timeout=120)
    if make_current:
        make_current_link(base, release)
    return release


def link_target_release(base: Path, version: str, *, make_current: bool) -> Path:
    """Set-up only: an earlier release that this test never runs, so an empty folder does.

    upgrade() never looks inside a release it neither installs nor reuses: it
    only points `current` back at it, and running it is systemd's part, which
    Restarts stands in for. Saves a venv and a pip run per test.
    """
    release = base / "releases" / version
    release.mkdir(parents=True)
    if make_current:
        make_current_link(base, release)
    return release


def make_current_link(base: Path, release: Path) -> None:
    (base / "current").unlink(missing_ok=True)
    (base / "current").symlink_to(os.path.relpath(release, base))


def tree(root: Path) -> dict[str, str]:
    """Every path under root with its link target or content hash: the before/after of an upgrade."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = "-> " + os.readlink(path)
            elif path.is_file():
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[key] = "dir"
    return found


class Restarts:
    """Stands in for systemctl: records which release `current` named at each restart."""

    def __init__(self, base: Path, fail_first: bool = False) -> None:
        self.base, self.fail_first, self.seen = base, fail_first, []

    def __call__(self) -> None:
        self.seen.append(os.readlink(self.base / "current"))
        if self.fail_first and len(self.seen) == 1:
            raise RuntimeError("Job for evaluator-kiosk.service failed")


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse")
    write_wheel(folder, "2.0")
    write_wheel(folder, "3.0", healthy=False)
    write_wheel(folder, "4.0", requires=("evaluator-no-such-dependency>=1",))
    return folder


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    """The base plus the data and config the upgrade must never touch."""
    config = tmp_path / "etc" / "evaluator" / "config.yaml"
    database = tmp_path / "var" / "lib" / "evaluator" / "evaluator.db"
    for path, text in ((config, "unit: {id: U1}\n"), (database, "ratings, not really\n")):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    (tmp_path / "opt" / "evaluator").mkdir(parents=True)
    return {"root": tmp_path, "base": tmp_path / "opt" / "evaluator", "config": config}


def run_upgrade(site: dict[str, Path], wheel: Path, house: Path, restart: Restarts, checks: list[Path],
                **options) -> tuple[UpgradeResult, list[str]]:
    def health(release: Path) -> bool:
        checks.append(release)
        return check_health(release, config=site["config"], timeout_s=30)

    lines: list[str] = []
    result = upgrade(wheel, site["base"], restart=restart, health_check=health, progress=lines.append,
                     find_links=[house], no_index=True, **options)
    return result, lines


def test_a_healthy_release_goes_live(site, house) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    before = tree(site["root"])
    restart, checks = Restarts(base), []

    result, lines = run_upgrade(site, house / f"{DIST}-2.0-py3-none-any.whl", house, restart, checks)

    assert result.outcome is Outcome.UPGRADED
    assert result.current == base / "releases" / "2.0" and result.previous == base / "releases" / "1.0"
    assert os.readlink(base / "current") == "releases/2.0"
    assert restart.seen == ["releases/2.0"]
    assert checks == [base / "releases" / "2.0"]
    assert (base / "releases" / "2.0" / "bin" / "pip").exists(), "a release carries pip to install its successor"
    after = tree(site["root"])
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed - {"opt/evaluator/current"} == {k for k in after if k.startswith("opt/evaluator/releases/2.0")}
    assert any("upgraded to 2.0" in line for line in lines)
    # the default health check itself, on the release just installed
    assert check_health(base / "releases" / "2.0", config=site["root"] / "missing.yaml") is False
    assert check_health(base / "releases" / "9.9", config=site["config"]) is False, "no bin/evaluator"


def test_a_release_failing_its_health_check_is_rolled_back_and_kept(site, house) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=False)
    link_target_release(base, "2.0", make_current=True)
    outside = {k: v for k, v in tree(site["root"]).items() if not k.startswith("opt/")}
    restart, checks = Restarts(base), []

    result, lines = run_upgrade(site, house / f"{DIST}-3.0-py3-none-any.whl", house, restart, checks,
                                timeout_s=1.0, poll_s=0.1)

    assert result.outcome is Outcome.ROLLED_BACK
    assert os.readlink(base / "current") == "releases/2.0"
    assert result.current == base / "releases" / "2.0"
    assert restart.seen == ["releases/3.0", "releases/2.0"]
    assert result.failed_release == base / "releases" / "3.0"
    assert (base / "releases" / "3.0" / "bin" / "evaluator").exists(), "kept for inspection"
    assert len(checks) > 1 and set(checks) == {base / "releases" / "3.0"}
    assert "health check" in result.reason and "did not pass within 1 s" in result.reason
    assert "releases/3.0" in str(result)
    assert {k: v for k, v in tree(site["root"]).items() if not k.startswith("opt/")} == outside
    assert any("rolling back" in line for line in lines)


def test_the_current_version_again_changes_nothing(site, house) -> None:
    base = site["base"]
    link_target_release(base, "2.0", make_current=True)
    before = tree(site["root"])
    restart, checks = Restarts(base), []

    result, _ = run_upgrade(site, house / f"{DIST}-2.0-py3-none-any.whl", house, restart, checks,
                            python=NO_PYTHON)

    assert result.outcome is Outcome.ALREADY_CURRENT
    assert restart.seen == [] and checks == []
    assert tree(site["root"]) == before


def test_a_successful_upgrade_keeps_only_the_new_release_and_its_rollback_target(site, house) -> None:
    base = site["base"]
    link_target_release(base, "0.9", make_current=False)          # replaced long ago
    link_target_release(base, "1.0", make_current=False)          # failed its health check, kept for inspection
    link_target_release(base, "1.5", make_current=True)
    release = installed_release(base, house / f"{DIST}-2.0-py3-none-any.whl", make_current=False)
    outside = {k: v for k, v in tree(site["root"]).items() if not k.startswith("opt/")}

    result, lines = run_upgrade(site, house / f"{DIST}-2.0-py3-none-any.whl", house, Restarts(base), [],
                                python=NO_PYTHON)

    assert result.outcome is Outcome.UPGRADED and result.current == release
    assert sorted(path.name for path in (base / "releases").iterdir()) == ["1.5", "2.0"]
    assert sum("removed the old release" in line for line in lines) == 2
    assert {k: v for k, v in tree(site["root"]).items() if not k.startswith("opt/")} == outside


def test_a_release_that_would_leave_too_little_room_for_the_ratings_is_refused(site, house) -> None:
    base = site["base"]
    current = link_target_release(base, "1.0", make_current=True)
    (current / "lib.so").write_bytes(os.urandom(64 << 20))       # the current release takes 64 MiB
    before = tree(site["root"])
    free = shutil.disk_usage(base).free

    with pytest.raises(UpgradeError) as refused:                  # 32 MiB short once the release is built
        run_upgrade(site, house / f"{DIST}-2.0-py3-none-any.whl", house, Restarts(base), [],
                    python=NO_PYTHON, keep_free_bytes=free - (32 << 20))

    message = str(refused.value)
    assert "not enough room" in message and "the release needs about 64 MiB" in message
    assert "must stay free for the ratings" in message
    assert tree(site["root"]) == before                           # nothing built, nothing switched


def test_an_installed_release_is_reused_not_rebuilt(site, house) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    release = installed_release(base, house / f"{DIST}-2.0-py3-none-any.whl", make_current=False)
    (release / "marker").write_text("built earlier")
    restart, checks = Restarts(base), []

    result, lines = run_upgrade(site, house / f"{DIST}-2.0-py3-none-any.whl", house, restart, checks,
                                python=NO_PYTHON)

    assert result.outcome is Outcome.UPGRADED
    assert (release / "marker").read_text() == "built earlier"
    assert restart.seen == ["releases/2.0"]
    assert any("reusing" in line for line in lines)


def test_a_release_built_from_another_wheel_of_the_same_version_is_built_again(site, house, tmp_path) -> None:
    # 3.0 failed its check and was kept; the vendor's corrected wheel kept the version number.
    base = site["base"]
    link_target_release(base, "2.0", make_current=True)
    failed = installed_release(base, house / f"{DIST}-3.0-py3-none-any.whl", make_current=False)
    (failed / WHEEL_DIGEST_FILE).write_text(hashlib.sha256((house / f"{DIST}-3.0-py3-none-any.whl")
                                                           .read_bytes()).hexdigest() + "\n")
    corrected = tmp_path / "corrected"
    corrected.mkdir()
    wheel = write_wheel(corrected, "3.0", healthy=True)

    result, lines = run_upgrade(site, wheel, house, Restarts(base), [])

    assert result.outcome is Outcome.UPGRADED and os.readlink(base / "current") == "releases/3.0"
    assert any("built from another wheel of version 3.0" in line for line in lines)
    assert (failed / WHEEL_DIGEST_FILE).read_text().strip() == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_a_failed_restart_rolls_back(site, house) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    installed_release(base, house / f"{DIST}-2.0-py3-none-any.whl", make_current=False)
    restart, checks = Restarts(base, fail_first=True), []

    result, _ = run_upgrade(site, house / f"{DIST}-2.0-py3-none-any.whl", house, restart, checks,
                            python=NO_PYTHON)

    assert result.outcome is Outcome.ROLLED_BACK
    assert os.readlink(base / "current") == "releases/1.0"
    assert restart.seen == ["releases/2.0", "releases/1.0"] and checks == []
    assert "restart failed" in result.reason and "evaluator-kiosk" in result.reason


def test_an_interrupted_health_check_still_rolls_back(site, house) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    installed_release(base, house / f"{DIST}-2.0-py3-none-any.whl", make_current=False)
    restart = Restarts(base)

    def interrupted(release: Path) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upgrade(house / f"{DIST}-2.0-py3-none-any.whl", base, restart=restart, health_check=interrupted,
                python=NO_PYTHON, progress=lambda line: None)

    assert os.readlink(base / "current") == "releases/1.0"
    assert restart.seen == ["releases/2.0", "releases/1.0"]


def test_a_release_that_turns_unhealthy_while_it_settles_is_rolled_back(site, house) -> None:
    # A screen that says READY and crashes seconds later: the first check passes, the next ones do not.
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    installed_release(base, house / f"{DIST}-2.0-py3-none-any.whl", make_current=False)
    answers = iter([True, True, False])
    restart, lines = Restarts(base), []

    result = upgrade(house / f"{DIST}-2.0-py3-none-any.whl", base, restart=restart,
                     health_check=lambda _release: next(answers, False), python=NO_PYTHON,
                     progress=lines.append, timeout_s=1.0, poll_s=0.05, settle_s=0.5)

    assert result.outcome is Outcome.ROLLED_BACK and os.readlink(base / "current") == "releases/1.0"
    assert "did not pass and stay healthy for 0.5 s within 1 s" in result.reason
    assert any("health check failed again" in line for line in lines)


def test_a_release_is_kept_once_it_stayed_healthy_for_the_settle_time(site, house) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    installed_release(base, house / f"{DIST}-2.0-py3-none-any.whl", make_current=False)
    checked: list[float] = []

    def healthy(_release: Path) -> bool:
        checked.append(time.monotonic())
        return True

    result = upgrade(house / f"{DIST}-2.0-py3-none-any.whl", base, restart=Restarts(base), health_check=healthy,
                     python=NO_PYTHON, progress=lambda line: None, timeout_s=5.0, poll_s=0.05, settle_s=0.5)

    assert result.outcome is Outcome.UPGRADED
    assert checked[-1] - checked[0] >= 0.5 and len(checked) > 2


HANGUP_CHILD = """
import os, sys, time
from pathlib import Path
from evaluator.upgrade import upgrade
base, wheel, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
def health(_release):
    ready.write_text(os.readlink(base / "current"))
    time.sleep(0.1)
    return False
try:
    upgrade(wheel, base, restart=lambda: None, health_check=health, python="/nonexistent/python3",
            progress=print, timeout_s=60, poll_s=0.1)
except KeyboardInterrupt as exc:
    print("interrupted:", exc, flush=True)
    sys.exit(3)
"""


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["ssh hung up", "terminated"])
def test_an_upgrade_stopped_by_a_signal_mid_check_rolls_back(site, house, sig) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    installed_release(base, house / f"{DIST}-2.0-py3-none-any.whl", make_current=False)
    ready = site["root"] / "checking"
    child = subprocess.Popen([sys.executable, "-c", HANGUP_CHILD, str(base),
                              str(house / f"{DIST}-2.0-py3-none-any.whl"), str(ready)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
            time.sleep(0.05)
        assert ready.read_text() == "releases/2.0"                    # live, and being checked
        child.send_signal(sig)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 3, err
    assert f"interrupted: {sig.name} during the health check" in out
    assert "rolling back" in out and os.readlink(base / "current") == "releases/1.0"


def test_the_health_check_asks_systemd_whether_the_services_run_steadily(site, house, tmp_path, monkeypatch):
    # systemd cannot run here: a `systemctl` on PATH answers `show` as systemd 252 does.
    release = installed_release(site["base"], house / f"{DIST}-2.0-py3-none-any.whl", make_current=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answers = tmp_path / "answers"
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\n[ "$1" = show ] || exit 1\nunit=$(eval echo \\${{$#}})\n'
                         f'cat "{answers}/$unit"\n')
    systemctl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    answers.mkdir()

    def systemd_says(kiosk: str, sync: str) -> bool:
        (answers / "evaluator-kiosk").write_text(kiosk)
        (answers / "evaluator-sync").write_text(sync)
        return check_health(release, config=site["config"], services=SERVICES)

    steady = "ActiveState=active\nNRestarts=0\n"
    assert systemd_says(steady, steady) is True
    assert services_steady() is None
    assert systemd_says("ActiveState=activating\nNRestarts=2\n", steady) is False
    assert services_steady() == "evaluator-kiosk is activating"
    assert systemd_says(steady, "ActiveState=active\nNRestarts=1\n") is False
    assert "evaluator-sync crashed and was restarted 1 time(s)" in services_steady()
    assert check_health(release, config=site["config"]) is True       # without services: status alone


def test_a_settle_time_longer_than_the_timeout_is_refused(site, house) -> None:
    with pytest.raises(UpgradeError, match="longer timeout"):
        upgrade(house / f"{DIST}-2.0-py3-none-any.whl", site["base"], restart=Restarts(site["base"]),
                health_check=lambda _release: True, python=NO_PYTHON, timeout_s=10, settle_s=10)
    assert not (site["base"] / "releases").exists()


@pytest.mark.parametrize("name", [
    "evaluator.whl",
    f"{DIST}-2.0.tar.gz",
    f"{DIST}-latest-py3-none-any.whl",
    f"{DIST}-2.0-py3-none.whl",
    f"{DIST}-2.0-x1-py3-none-any.whl",
    f"{DIST}-..-py3-none-any.whl",
])
def test_a_malformed_wheel_name_is_refused_before_anything_changes(site, house, name: str) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    wheel = write_wheel(site["root"], "2.0", name=name)
    before = tree(site["root"])
    restart, checks = Restarts(base), []

    with pytest.raises(WheelNameError, match="PEP 427") as refused:
        run_upgrade(site, wheel, house, restart, checks, python=NO_PYTHON)

    assert repr(name) in str(refused.value)
    assert tree(site["root"]) == before and restart.seen == []


def test_a_truncated_wheel_is_refused_before_a_venv_is_built(site, house) -> None:
    wheel = site["root"] / f"{DIST}-2.0-py3-none-any.whl"
    wheel.write_bytes((house / f"{DIST}-2.0-py3-none-any.whl").read_bytes()[:100])
    restart = Restarts(site["base"])
    with pytest.raises(WheelNameError, match="not a readable wheel"):
        run_upgrade(site, wheel, house, restart, [], python=NO_PYTHON)
    assert not (site["base"] / "releases").exists() and restart.seen == []


def test_a_failed_install_leaves_no_release_behind(site, house) -> None:
    base = site["base"]
    link_target_release(base, "1.0", make_current=True)
    restart = Restarts(base)

    with pytest.raises(UpgradeError, match="pip install failed") as failed:
        run_upgrade(site, house / f"{DIST}-4.0-py3-none-any.whl", house, restart, [])

    assert "evaluator-no-such-dependency" in str(failed.value)
    assert not (base / "releases" / "4.0").exists()
    assert os.readlink(base / "current") == "releases/1.0" and restart.seen == []


@pytest.mark.parametrize(("name", "version"), [
    ("satisfaction_evaluator-0.2.0-py3-none-any.whl", "0.2.0"),
    ("satisfaction_evaluator-1.0rc1-7-py3-none-any.whl", "1.0rc1"),
    ("satisfaction_evaluator-1!2.0.post1+hall3-py3-none-any.whl", "1!2.0.post1+hall3"),
])
def test_wheel_version_reads_pep_427_names(name: str, version: str) -> None:
    assert wheel_version(Path("/downloads") / name) == version


def _release_reporting(root: Path, report: dict[str, object], exit_code: int) -> Path:
    """A release whose `bin/evaluator status --json` prints `report` and exits `exit_code`."""
    release = root / "releases" / "3.0"
    (release / "bin").mkdir(parents=True)
    script = release / "bin" / "evaluator"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(report)}\nEOF\nexit {exit_code}\n", encoding="utf-8")
    script.chmod(0o755)
    return release


def test_an_unplugged_panel_alone_does_not_fail_a_release_but_a_real_problem_does(tmp_path) -> None:
    unplugged = _release_reporting(tmp_path / "a", {"problems": [], "unplugged": ["panel port /dev/x does not exist"],
                                                    "healthy": False}, 1)
    assert check_health(unplugged, config=None) is True
    broken = _release_reporting(tmp_path / "b", {"problems": ["less than 50 MB free for the rating store"],
                                                 "unplugged": ["panel port /dev/x does not exist"],
                                                 "healthy": False}, 1)
    assert check_health(broken, config=None) is False
