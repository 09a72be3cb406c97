"""`evaluator provision` against a real centre process: what enrolling changes, and every refusal as one line."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from centre import enroll as centre_enroll
from centre.db.engine import open_engine
from evaluator.terminal import open_store
from kiosk.config import Locale, load
from kiosk.screens.technician import Technician, provision_message
from kiosk.screens.texts import CATALOG
from sync.actions import CentreActions
from sync.provision import ProvisionProblem, changes
from tests.sync.conftest import Collector, free_port
from tests.sync.test_end_to_end import evaluator

LOCAL = ("unit: {id: u1, name: 本地中心, name_en: Local Centre}\n"
         "counter: {id: k1, name: 本地窗口, name_en: Local Counter}\n"
         "staff: [{id: E1, name: 李明}, {id: E2, name: 王芳}]\n")


def code_with_names(collector: Collector, *names: str) -> str:
    collector.register("301", "c-3")
    done = collector.cli("enroll-code", "--unit", "301", "--counter", "c-3", "--unit-name", "市民中心",
                         "--counter-name", "3号窗口", *names)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_provision_says_what_changes_and_takes_both_names_from_the_centre(collector, terminal_config):
    config = terminal_config(extra=LOCAL)
    code = code_with_names(collector, "--unit-name-en", "Citizen Centre", "--counter-name-en", "Counter 3")
    done = evaluator(config, "provision", "--server", collector.url + "/", "--code", code.lower())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  unit: u1 (本地中心 / Local Centre) → 301 (市民中心 / Citizen Centre)" in lines
    assert "  counter: k1 (本地窗口 / Local Counter) → c-3 (3号窗口 / Counter 3)" in lines
    assert "  staff: 2 member(s) kept (the centre sent no roster)" in lines
    assert f"  server: none → {collector.url}" in lines
    settings = load(config)
    assert (settings.unit.id, settings.unit.name, settings.unit.name_en) == ("301", "市民中心", "Citizen Centre")
    assert (settings.counter.name, settings.counter.name_en) == ("3号窗口", "Counter 3")
    assert [member.id for member in settings.staff] == ["E1", "E2"]      # the local roster survives


def test_without_english_names_the_header_never_keeps_another_places_name(collector, terminal_config):
    config = terminal_config(extra=LOCAL)
    done = evaluator(config, "provision", "--server", collector.url, "--code", code_with_names(collector))
    assert done.returncode == 0, done.stderr
    assert "  unit: u1 (本地中心 / Local Centre) → 301 (市民中心)" in done.stdout.splitlines()
    settings = load(config)
    assert (settings.unit.name, settings.unit.name_en) == ("市民中心", "市民中心")
    assert (settings.counter.name, settings.counter.name_en) == ("3号窗口", "3号窗口")


def test_a_local_english_name_of_the_same_place_stays(terminal_config):
    config = terminal_config(extra="unit: {name: 市民中心, name_en: Citizen Hall}\ncounter: {name: 本地窗口}\n")
    overlay = {"device": {"id": "dev-1"}, "unit": {"id": "301", "name": "市民中心"},
               "counter": {"id": "c-3", "name": "3号窗口"}, "staff": [], "sync": {"server": "http://c"}}
    settings = load(config, centre=overlay)
    assert settings.unit.name_en == "Citizen Hall"                  # same name: config.yaml's English is right
    assert settings.counter.name_en == "3号窗口"                     # another counter: its English name is not


def test_a_roster_from_the_centre_replaces_the_local_one_and_says_so(terminal_config):
    config = terminal_config(extra=LOCAL)
    overlay = {"device": {"id": "dev-1"}, "unit": {"id": "301", "name": "市民中心", "name_en": "Citizen Centre"},
               "counter": {"id": "c-3", "name": "3号窗口"}, "staff": [{"id": "E9", "name": "赵六"}],
               "sync": {"server": "http://c"}}
    before, after = load(config), load(config, centre=overlay)
    assert [member.id for member in after.staff] == ["E9"]
    assert changes(before, after, roster_sent=True)[2] == "staff: 2 member(s) → 1 from the centre (replaced)"
    assert changes(after, after, roster_sent=True)[0] == "unit: 301 (市民中心 / Citizen Centre) (unchanged)"


def expired_code(collector: Collector) -> str:
    collector.register("u", "c")
    engine = open_engine(collector.db)
    try:
        return centre_enroll.create_code(engine, "u", "c", ttl=timedelta(hours=1),
                                         now=datetime.now(UTC) - timedelta(hours=2))
    finally:
        engine.dispose()


def used_code(collector: Collector, config: Path) -> str:
    code = collector.enroll_code()
    assert evaluator(config, "provision", "--server", collector.url, "--code", code).returncode == 0
    return code


CASES = {   # (server, code) of each refusal → words of its one line
    "mistyped code": (lambda c, _cfg: (c.url, "AB1-?"), "Not an enrollment code"),
    "short code": (lambda c, _cfg: (c.url, "ABC"), "Not an enrollment code"),
    "unknown code": (lambda c, _cfg: (c.url, "ZZZZZZZZZZ"), "The centre does not know this code"),
    "used code": (lambda c, cfg: (c.url, used_code(c, cfg)), "has been used already"),
    "expired code": (lambda c, _cfg: (c.url, expired_code(c)), "has expired"),
    "no scheme": (lambda c, _cfg: (c.url.removeprefix("http://"), "ABCDEFGH23"), "Bad server URL"),
    "no host": (lambda c, _cfg: ("https://", "ABCDEFGH23"), "Bad server URL"),
    "unreachable": (lambda c, _cfg: (f"http://127.0.0.1:{free_port()}", "ABCDEFGH23"), "Cannot reach"),
    "not a centre": (lambda c, _cfg: (c.url + "/nothing", "ABCDEFGH23"), "did not answer as a centre"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_refusal_is_one_clear_line_and_exit_2(collector, terminal_config, case):
    config = terminal_config()
    make, words = CASES[case]
    server, code = make(collector, terminal_config("other"))
    done = evaluator(config, "provision", "--server", server, "--code", code)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("evaluator provision: ")
    assert words in done.stderr and "Traceback" not in done.stderr
    assert not (load(config).sync.state_dir / "device.json").exists()


def test_every_problem_has_words_in_both_languages():
    texts = CATALOG["technician"]
    assert all(f"provision_{problem.value}" in texts for problem in ProvisionProblem)
    assert all(zh and en and "\n" not in zh + en for zh, en in texts.values())


def test_the_enroll_screen_shows_the_problem_in_its_language(collector, terminal_config):
    config = terminal_config()
    settings = load(config)
    store = open_store(settings)
    messages: list[str] = []
    try:
        technician = Technician(settings, store, panels=list, light_key=lambda _key: False, restart=lambda: None,
                                centre=CentreActions(settings, store, str(config)), background=lambda work: work())
        technician.provision_form.server = collector.url.removeprefix("http://")
        technician.provision_form.code = "ABCDEFGH23"
        for locale in Locale:
            technician.provision(locale, messages.append)
    finally:
        store.close()
    assert messages == ["服务器地址有误：应以 http:// 或 https:// 开头，后接主机名",
                        "Bad server URL: it must start with http:// or https:// and name a host"]


def test_an_error_without_a_problem_keeps_its_own_words():
    assert provision_message(RuntimeError("disk full"), Locale.EN) == "Enrollment failed: disk full"
