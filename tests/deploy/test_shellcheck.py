"""shellcheck on the deploy scripts."""
from __future__ import annotations

import subprocess

import pytest

from .conftest import DEPLOY, require

OWN = ["install.sh", "testdeps.sh", "sysdeps.sh"]  # the installer and what it calls: every note counts


@pytest.mark.parametrize("script", OWN)
def test_installer_scripts_are_shellcheck_clean(script: str) -> None:
    result = subprocess.run([require("shellcheck"), "--external-sources", str(DEPLOY / script)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_all_deploy_scripts_have_no_shellcheck_warnings() -> None:
    scripts = sorted(str(p) for p in DEPLOY.glob("*.sh"))
    result = subprocess.run([require("shellcheck"), "--severity=warning", *scripts], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout
