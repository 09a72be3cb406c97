"""The design's structural rules (DESIGN.md, docs/architecture.md) hold for the product code.

The import contracts themselves are `lint-imports` (.importlinter), run by `make test`; here they are
shown to catch a bad import, on a copy of the tree with one planted."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("kiosk", "drivers", "contract", "sync", "centre", "evaluator", "tools")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50
MIGRATION_VERSIONS = ("kiosk/store/migrations/versions/", "centre/db/migrations/versions/")


def product_files() -> list[Path]:
    files = [path for package in PACKAGES for path in (REPO / package).rglob("*.py")]
    # Alembic's revision files (the terminal's store, the centre's database) are append-only history; they
    # are kept as written.
    return sorted(path for path in files if not path.relative_to(REPO).as_posix().startswith(MIGRATION_VERSIONS))


def test_product_files_are_at_most_400_lines():
    long = {str(path.relative_to(REPO)): n for path in product_files()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}
    assert long == {}


def test_product_functions_are_at_most_50_lines():
    long = []
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


@pytest.fixture(scope="module")
def lint_imports() -> Path:
    tool = Path(sys.executable).parent / "lint-imports"
    if not tool.exists():
        pytest.skip("lint-imports is not installed (the [dev] extra)")
    return tool


def _lint_copy(tmp_path: Path, tool: Path, plant: tuple[str, str] | None) -> subprocess.CompletedProcess[str]:
    for package in PACKAGES[:-1]:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    if plant is not None:
        module, line = plant
        target = tmp_path / module
        target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return subprocess.run([str(tool), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})


def test_the_import_contracts_hold_on_an_untouched_copy(tmp_path, lint_imports):
    result = _lint_copy(tmp_path, lint_imports, None)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("kiosk/store/days.py", "import kivy  # noqa", "kiosk.store.days -> kivy"),
    ("kiosk/store/days.py", "import kiosk.ui.kv  # noqa", "kiosk.store is not allowed to import kiosk.ui"),
    ("centre/errors.py", "import kiosk.store  # noqa", "centre.errors -> kiosk.store"),
    ("contract/__init__.py", "import sync.client  # noqa", "contract -> sync.client"),
    ("drivers/protocol.py", "import kiosk.config  # noqa", "drivers.protocol -> kiosk.config"),
    ("kiosk/rating/scoring.py", "import sync.uploader  # noqa", "kiosk.rating.scoring -> sync.uploader"),
])
def test_a_planted_bad_import_breaks_a_contract(tmp_path, lint_imports, module, line, broken):
    result = _lint_copy(tmp_path, lint_imports, (module, line))
    assert result.returncode == 1
    assert broken in result.stdout.replace("\n", " ")
