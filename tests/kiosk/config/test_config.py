"""config.yaml → Settings: the documented defaults, and a clear message for every bad value."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from pydantic import ValidationError

from kiosk.config import ConfigError, Mode, Settings, load
from kiosk.config import loading as config
from tests.conftest import REPO


def test_config_yaml_documents_exactly_the_embedded_defaults():
    documented = config.load(REPO / "config.yaml")
    embedded = config._resolve_paths(Settings(), REPO)
    assert documented == embedded


def test_no_file_means_embedded_defaults_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "DEFAULT_PATHS", (tmp_path / "config.yaml",))
    settings = config.load(None)
    assert settings.store.path == tmp_path / "var" / "evaluator.db"
    assert settings.mode is Mode.OPEN and settings.unit.timezone == "Asia/Shanghai"


def test_relative_paths_are_taken_from_the_config_folder(tmp_path):
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "config.yaml"
    path.write_text("store: {path: data/e.db}\nmode: solicited\n", encoding="utf-8")
    settings = config.load(path)
    assert settings.store.path == tmp_path / "etc" / "data" / "e.db"
    assert settings.mode is Mode.SOLICITED


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().mode = Mode.SOLICITED  # type: ignore[misc]


BAD_CONFIGS = [
    ("timings: {cooldown_s: -1}", "timings.cooldown_s", "greater than 0"),
    ("mode: sometimes", "mode", "'open' or 'solicited'"),
    ("locale: fr", "locale", "'zh' or 'en'"),
    ("unit: {timezone: Mars/Olympus}", "unit.timezone", "unknown time zone"),
    ("device: {id: 'has spaces'}", "device.id", "should match pattern"),
    ("levels: [{level: 5, zh: a, en: b, colour: '#000000'}]", "levels", "each of the levels 1…5"),
    ("levels: [{level: 7, zh: a, en: b, colour: '#000000'}]", "levels.0.level", "less than or equal to 5"),
    ("bad_reasons: [{code: x, zh: a, en: b}, {code: x, zh: c, en: d}]", "bad_reasons", "duplicate ids"),
    ("counter: {staff_id: E404}", "counter.staff_id", "not in the staff list"),
    ("panel: {keys: {0: 5}}", "panel.keys", "panel keys are 1…9"),
    ("panel: {baudrate: fast}", "panel.baudrate", "valid integer"),
    ("panel: {mode: serial}", "panel.mode", "'line' or 'byte'"),
    ("panel: {byte_table: {0x31: K0}}", "panel.byte_table", "EVP-1 panel frames"),
    ("panel: {port: /dev/x}\ncounter_link: {port: /dev/x}", "counter_link.port", "leave it null"),
    ("sync_secret: hunter2", "sync_secret", "secrets never go in config.yaml"),
    ("ui: {width_px: 10}", "ui.width_px", "greater than or equal to 320"),
    ("store: [1, 2]", "store", "valid dictionary"),
    ("mode: [open", "", "not valid YAML: line 1"),
    ("- just\n- a list", "", "must be a mapping"),
    # PyYAML keeps the last of two equal keys without a word: the first would be lost silently.
    ("mode: open\nlocale: en\nmode: solicited", "", "line 3, column 1: duplicated key 'mode' (first on line 1)"),
    ("panel:\n  port: /dev/a\n  checksum: true\n  port: /dev/b", "",
     "line 4, column 3: duplicated key 'port' (first on line 2)"),
    ("staff:\n  - {id: E1, name: a}\n  - {id: E2, name: b,\n     id: E3}", "",
     "line 4, column 6: duplicated key 'id' (first on line 3)"),
]


@pytest.mark.parametrize("text, field, words", BAD_CONFIGS)
def test_each_bad_value_is_named_with_file_and_field(tmp_path, text, field, words):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert words in message
    if field:
        assert f"{path}: {field}: " in message


def test_a_duplicated_key_is_refused_from_the_cli_but_a_yaml_merge_may_override(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("unit: {timezone: Asia/Shanghai}\npanel:\n  baudrate: 9600\n  baudrate: 19200\n",
                    encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "evaluator.cli", "status", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{path}: not valid YAML: line 4, column 3: duplicated key 'baudrate' (first on line 3)" in done.stderr
    merged = tmp_path / "merged.yaml"
    merged.write_text("panel:\n  <<: {baudrate: 9600, checksum: true}\n  baudrate: 19200\n", encoding="utf-8")
    assert config.load(merged).panel.baudrate == 19200 and config.load(merged).panel.checksum is True


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, field, words", [case for case in BAD_CONFIGS
                                                  if case[1] in ("timings.cooldown_s", "sync_secret")
                                                  or "not valid YAML" in case[2]])
def test_cli_reports_config_errors_with_exit_2_and_no_traceback(tmp_path, text, field, words):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    for command in (["summary"], ["verify"], ["run"], ["snapshot", "rating", "--out", str(tmp_path / "x.png")]):
        done = subprocess.run([sys.executable, "-m", "evaluator.cli", *command, "--config", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (command, done.stderr)
        assert words in done.stderr and str(path) in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("text, field, words", BAD_CONFIGS)
@pytest.mark.parametrize("command", ["summary", "verify", "sync", "provision"])
def test_every_config_error_exits_2_from_every_command(tmp_path, capsys, text, field, words, command):
    """In-process (the CLI's own main()), so every case runs for every command in a few seconds."""
    from evaluator.cli import main

    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    extra = ["--server", "http://127.0.0.1:9", "--code", "ABCDEF12"] if command == "provision" else []
    assert main([command, "--config", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and (f"{path}: {field}: " in err if field else str(path) in err)


def test_level_colours_must_keep_white_labels_readable(tmp_path):
    from kiosk.config.citizen import MIN_CONTRAST, _contrast_with_white

    assert all(_contrast_with_white(level.colour) >= MIN_CONTRAST for level in Settings().levels)
    assert _contrast_with_white("#000000") == pytest.approx(21.0) and _contrast_with_white("#FFFFFF") == 1.0
    levels = [level.model_dump() for level in Settings().levels]
    levels[2]["colour"] = "#F5D142"                    # a pale yellow: white on it can't be read
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"levels": levels}, allow_unicode=True))
    with pytest.raises(ConfigError, match=r"levels\.2\.colour.*#F5D142 is too light"):
        load(path)


def test_the_attract_screen_waits_a_minute_by_default_and_0_or_null_turn_it_off(tmp_path):
    assert Settings().ui.attract_after_s == 60.0
    path = tmp_path / "config.yaml"
    for text, expected in (("0", None), ("null", None), ("1.5", 1.5)):
        path.write_text(f"ui: {{attract_after_s: {text}}}")
        assert load(path).ui.attract_after_s == expected
    path.write_text("ui: {attract_after_s: 0.5}")
    with pytest.raises(ConfigError, match=r"ui\.attract_after_s: .*0\.5 s is too short; give at least 1 s"):
        load(path)
