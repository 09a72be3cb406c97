"""Helpers for the deploy tests: run deploy/install.sh into a staging root, never on this machine."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.testdeps import IS_ROOT, require  # noqa: F401  (the deploy tests import them from here)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALL = DEPLOY / "install.sh"


def install(root: Path, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """deploy/install.sh --root ROOT ARGS…; --root is always given, so the host is never touched."""
    result = subprocess.run(["bash", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                            check=False, env={**os.environ, **(env or {})}, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"install.sh {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry below root: kind, permission bits, and the link target or a hash of the content."""
    entries: dict[str, tuple[str, int, str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            entries[rel] = ("link", 0, os.readlink(path))
        elif path.is_dir():
            entries[rel] = ("dir", st.st_mode & 0o7777, "")
        else:
            entries[rel] = ("file", st.st_mode & 0o7777, hashlib.sha256(path.read_bytes()).hexdigest())
    return entries


def directives(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of each assignment in a systemd-style INI file, repeats included."""
    section, found = "", []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            key, _, value = line.partition("=")
            found.append((section, key.strip(), value.strip()))
    return found


def mode(path: Path) -> int:
    return path.lstat().st_mode & 0o7777


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    """A staging root with the terminal installed (no venv: that is test_venv's job)."""
    root = tmp_path / "root"
    install(root, "--no-venv")
    return root
