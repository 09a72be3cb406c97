"""`evaluator centre`'s table of commands (centre/cli.py COMMANDS) is complete and true, and a command imports only
what it needs: the table names every command the whole parser lists, the module it names gives that command
alone exactly as the whole parser has it, and a start of `evaluator centre token list` imports none of the other
commands' modules nor any of the terminal's."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from centre.cli import COMMANDS, build_parser, main
from centre.db.engine import migrate
from tests.centre.conftest import REPO


def commands_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's commands (its subparsers), in the order --help lists them."""
    found = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


def helps(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """The --help of the parser and of each of its commands, their actions' too, and so on down."""
    found = {path: parser.format_help()}
    for name, command in commands_of(parser).items():
        found.update(helps(command, (*path, name)))
    return found


def test_the_table_names_every_command_of_the_whole_parser_in_its_order() -> None:
    parser, handlers = build_parser()
    assert list(commands_of(parser)) == list(COMMANDS)
    assert set(handlers) == set(COMMANDS)   # each command runs, none runs without a parser


@pytest.mark.parametrize("name", COMMANDS)
def test_the_module_the_table_names_gives_the_command_as_the_whole_parser_has_it(name: str) -> None:
    whole, every_handler = build_parser()
    alone, handlers = build_parser([name])
    assert name in commands_of(alone)
    assert helps(commands_of(alone)[name]) == helps(commands_of(whole)[name])
    assert handlers[name] is every_handler[name]


def test_an_unknown_command_is_refused_with_every_command_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["tokens", "list"])
    assert refused.value.code == 2
    listed = ", ".join(repr(name) for name in COMMANDS)
    assert f"invalid choice: 'tokens' (choose from {listed})" in capsys.readouterr().err


def test_a_command_imports_neither_the_other_commands_modules_nor_the_terminals(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    migrate(url)
    script = ("import sys\nfrom evaluator.cli import main\n"
              f"code = main(['centre', 'token', 'list', '--db', {url!r}])\n"
              "print(*sorted(sys.modules), sep='\\n', file=sys.stderr)\nsys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "no API tokens\n"), done.stderr
    imported = set(done.stderr.split())
    assert "centre.cli_tokens" in imported
    others = {adder.split(":")[0] for adder in COMMANDS.values()} - {"centre.cli_tokens"}
    assert imported & others == set()
    assert {module for module in imported if module.split(".")[0] == "kiosk"
            or module.startswith("evaluator.commands")} == set()


@pytest.mark.parametrize("args", [
    ["summary", "--unit", "u-1", "--date", "2026-02-30"],
    ["indicators", "--unit", "u-1", "--from", "2026-02-30"],
    ["integrity", "analyse", "--from", "2026-02-30", "--to", "2026-03-01"],
    ["province", "check", "--since", "2026-02-30"],
    ["digest", "publish", "--day", "2026-02-30"],
    ["demo", "--until", "2026-02-30"],
])
def test_a_day_that_is_not_one_is_refused_alike_by_every_command(args: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main([*args, "--db", "sqlite:///nowhere.db"])
    assert refused.value.code == 2
    assert "a day is YYYY-MM-DD, got '2026-02-30'" in capsys.readouterr().err


def test_the_database_url_comes_from_the_environment_and_is_never_shown(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    migrate(url)
    monkeypatch.setenv("EVALUATOR_CENTRE_DB", "postgresql+psycopg://evaluator:pw-in-env@db.example/evaluator")
    parser, _ = build_parser(["token"])
    assert "pw-in-env" not in "".join(helps(parser).values())
    assert parser.parse_args(["token", "list"]).db.endswith("@db.example/evaluator")
    assert parser.parse_args(["token", "list", "--db", url]).db == url       # --db still wins
