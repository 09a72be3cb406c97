"""install.sh building the real virtual environment from the repo into a staging root.

Offline and quick: pip installs only the app itself (PIP_NO_DEPS, no index,
no build isolation), so the test needs no network and takes seconds; the
dependencies are pip's business, not the installer's.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import REPO, install

OFFLINE = {"PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "1"}


def test_venv_from_the_repo_points_at_its_place_on_the_terminal(tmp_path: Path) -> None:
    root = tmp_path / "root"
    had_build = (REPO / "build").exists()
    install(root, env={**OFFLINE, "SOURCE_DATE_EPOCH": "1803859200"})   # 2027-03-01, the build's day
    current = root / "opt/evaluator/current"
    release = current.resolve()
    evaluator = current / "bin/evaluator"
    assert os.access(evaluator, os.X_OK)
    # On the terminal the venv lives at /opt/evaluator/releases/<version>: no staging path may remain.
    assert evaluator.read_text().splitlines()[0] == f"#!/opt/evaluator/releases/{release.name}/bin/python"
    for path in [release / "pyvenv.cfg", *(release / "bin").iterdir()]:
        if not path.is_symlink():
            assert str(root) not in path.read_text(errors="replace"), path
    # The app is importable from the venv (run outside the repo so the checkout is not on sys.path).
    code = ("import kiosk, importlib.metadata as m; "
            "print(kiosk.__file__, m.version('satisfaction-evaluator'), kiosk.BUILD_DATE.isoformat())")
    probe = subprocess.run([str(current / "bin/python"), "-c", code],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    location, version, built = probe.stdout.split()
    assert location.startswith(str(current) + "/") and version == release.name
    # The clock's floor is the day the release was built, not a date someone had to remember to set.
    assert built == "2027-03-01T00:00:00+00:00"
    # Building from a copy leaves no build/ or egg-info behind in the checkout.
    assert (REPO / "build").exists() == had_build

    rerun = install(root, env=OFFLINE)
    assert f"release {release.name} already installed" in rerun.stdout
