"""The operator guide points at things that exist: screenshots, deploy files, installer options."""
from __future__ import annotations

import re

from .conftest import REPO

GUIDE = REPO / "docs/operator-guide.md"


def test_relative_links_and_images_exist() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)\)", GUIDE.read_text())
    assert any(t.startswith("screenshots/") for t in targets)
    for target in targets:
        if "://" not in target:
            assert (GUIDE.parent / target).is_file(), target


def test_named_deploy_files_exist() -> None:
    for path in set(re.findall(r"deploy/[\w./-]*\w", GUIDE.read_text())):
        assert (REPO / path).exists(), path


def test_installer_options_in_the_guide_exist() -> None:
    install_sh = (REPO / "deploy/install.sh").read_text()
    text = GUIDE.read_text()
    options = set(re.findall(r"install\.sh[^\n`]*", text))
    for option in {o for line in options for o in re.findall(r"--[a-z][a-z-]+", line)}:
        assert f"{option})" in install_sh, option
