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


DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_relative_link_in_the_docs_stays_inside_the_repo_and_exists() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)\)", doc.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            path = (doc.parent / target).resolve()
            assert path.is_relative_to(REPO), f"{doc.name}: {target} is outside the repository"
            assert path.exists(), f"{doc.name}: {target}"


def test_the_files_the_architecture_names_exist() -> None:
    text = (REPO / "docs/architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:kiosk|drivers|contract|sync|centre|evaluator|tools)/[\w/]*\.py)`", text))
    assert len(named) >= 10
    assert [path for path in sorted(named) if not (REPO / path).is_file()] == []


def test_the_panel_protocol_examples_parse() -> None:
    from drivers.protocol import FrameError, parse_panel_body

    text = (REPO / "docs/panel-protocol.md").read_text(encoding="utf-8")
    examples = re.search(r"## Examples\n((?:    .*\n?)+)", text)
    assert examples is not None
    for line in examples.group(1).splitlines():
        frame = line.strip().split("  ")[0]
        assert not isinstance(parse_panel_body(frame.split("*")[0]), FrameError), frame
