"""deploy/install.sh into a staging root (--root): the tree, modes, symlinks, reruns, uninstall, purge.

Every run passes --root, so nothing here touches this machine's /etc, /opt or
/var; apt, useradd and systemctl are not called under --root.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import load

from .conftest import IS_ROOT, REPO, directives, install, mode, require, snapshot

VERSION = re.search(r'version="([^"]+)"', (REPO / "setup.py").read_text()).group(1)
UNITS = ("evaluator-kiosk.service", "evaluator-sync.service")
CHIPS = {("1a86", "7523"), ("1a86", "55d3"), ("1a86", "55d4"), ("10c4", "ea60"), ("0403", "6001"), ("0403", "6015"),
         ("067b", "2303")}


def udev_matches(text: str) -> set[tuple[str, ...]]:
    return {tuple(re.findall(r'ATTRS\{(?:idVendor|idProduct|serial)\}=="([^"]*)"', line))
            for line in text.splitlines() if line.strip() and not line.startswith("#")}


def test_tree_modes_and_symlinks(staged: Path) -> None:
    opt = staged / "opt/evaluator"
    assert os.readlink(opt / "current") == f"releases/{VERSION}"
    assert (opt / "current").resolve() == (opt / "releases" / VERSION).resolve()
    assert sorted(p.name for p in opt.iterdir()) == ["current", "releases"]  # no temporary link left

    system = staged / "etc/systemd/system"
    for unit in UNITS:
        assert (system / unit).read_bytes() == (REPO / "deploy/systemd" / unit).read_bytes()
        assert mode(system / unit) == 0o644
        wants = system / "multi-user.target.wants" / unit
        assert os.readlink(wants) == f"/etc/systemd/system/{unit}"
    assert not (system / "evaluator-sync.service.d/restart-backoff.conf").exists()  # no systemd >= 254 seen

    assert mode(staged / "etc/evaluator") == 0o755
    assert mode(staged / "etc/evaluator/secrets") == 0o700
    assert mode(staged / "var/lib/evaluator") == 0o750
    assert mode(staged / "var/lib/evaluator/kivy") == 0o750
    assert mode(staged / "etc/evaluator/config.yaml") == 0o644

    for name in ("99-evaluator-panel.rules", "99-evaluator-backlight.rules"):
        rule = staged / "etc/udev/rules.d" / name
        assert rule.read_bytes() == (REPO / "deploy/udev" / name).read_bytes()
        assert mode(rule) == 0o644
    assert (staged / "etc/default/grub.d/evaluator.cfg").read_text().count("consoleblank=0") == 1
    sysusers = (staged / "etc/sysusers.d/evaluator.conf").read_text()
    assert re.search(r"^u evaluator .* /var/lib/evaluator ", sysusers, re.MULTILINE)
    groups = set(re.findall(r"^m evaluator (\S+)", sysusers, re.MULTILINE))
    assert groups == {"dialout", "video", "render", "input", "audio"}
    tmpfiles = (staged / "etc/tmpfiles.d/evaluator.conf").read_text()
    assert "d /etc/evaluator/secrets 0700 evaluator evaluator" in tmpfiles


def test_config_has_the_system_paths(staged: Path) -> None:
    text = (staged / "etc/evaluator/config.yaml").read_text()
    settings = load(staged / "etc/evaluator/config.yaml")  # the app's own loader accepts it
    assert settings.store.path == Path("/var/lib/evaluator/evaluator.db")
    assert settings.sync.state_dir == Path("/etc/evaluator/secrets")
    assert settings.ui.fullscreen and settings.ui.kiosk and settings.ui.input.value == "touchscreen"
    # Only those values changed: the documented defaults and their comments are all still there.
    original = (REPO / "config.yaml").read_text().splitlines()
    changed = [line for line in original if line not in text.splitlines()]
    assert [line.split(":")[0].strip() for line in changed] == ["path", "fullscreen", "kiosk", "input",
                                                                 "state_dir"]


# What an older installer wrote to /var/lib/evaluator/kivy/config.ini, with a technician's "fix" in it.
OLD_KIVY_CONFIG = """[kivy]
exit_on_escape = 1

[graphics]
show_cursor = 1
maxfps = 7

[input]
mouse = mouse
mtdev_%(name)s = probesysfs,provider=mtdev
"""


def kivy_config_of_the_app(config_yaml: Path, kivy_home: Path) -> dict[str, dict[str, str]]:
    """Kivy's settings as `evaluator run` leaves them before its window opens, in a fresh interpreter."""
    code = ("import json, sys\n"
            "from kiosk.config import load\n"
            "from kiosk.ui.boot import prepare_kivy\n"
            "prepare_kivy(load(sys.argv[1]))\n"
            "from kivy.config import Config\n"
            "print(json.dumps({s: dict(Config.items(s)) for s in ('kivy', 'graphics', 'input')}))\n")
    # As under systemd: KIVY_HOME from the unit, no KIVY_NO_CONFIG (the app decides).
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIVY_")}
    env["KIVY_HOME"] = str(kivy_home)
    result = subprocess.run([sys.executable, "-c", code, str(config_yaml)], capture_output=True, text=True,
                            env=env, cwd=REPO, check=True, timeout=120)
    return json.loads(result.stdout.splitlines()[-1])


def test_no_kivy_config_ini_the_input_comes_from_config_yaml(staged: Path) -> None:
    kivy_ini = staged / "var/lib/evaluator/kivy/config.ini"
    assert not kivy_ini.exists()  # the app sets KIVY_NO_CONFIG: Kivy would never read one
    kivy_ini.write_text(OLD_KIVY_CONFIG)
    config = kivy_config_of_the_app(staged / "etc/evaluator/config.yaml", kivy_ini.parent)
    # ui.input: touchscreen gives each touchscreen found its provider (kiosk.ui.boot); this machine has none,
    # and the file's mouse and probesysfs lines are not there.
    assert config["input"] == {}
    assert config["kivy"]["exit_on_escape"] == "0" and config["graphics"]["show_cursor"] == "0"  # ui.kiosk
    assert config["graphics"].get("maxfps") != "7"  # nothing of the file reached Kivy

    rerun = install(staged, "--no-venv")  # an upgrade over an older install clears it away
    assert not kivy_ini.exists() and "removed /var/lib/evaluator/kivy/config.ini" in rerun.stdout


def test_udev_rule_per_chip_with_group_and_mode(staged: Path) -> None:
    text = (staged / "etc/udev/rules.d/99-evaluator-panel.rules").read_text()
    rules = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert udev_matches(text) == CHIPS
    key = r'(SUBSYSTEM|ATTRS\{\w+\}|SYMLINK|GROUP|MODE|ENV\{\w+\})(==|\+=|=)"[^"]*"'
    for line in rules:
        assert re.fullmatch(rf"{key}(, {key})*", line), line
        assert 'SUBSYSTEM=="tty"' in line and 'SYMLINK+="evaluator-panel"' in line
        assert 'GROUP="dialout"' in line and 'MODE="0660"' in line


def test_rerun_changes_nothing_and_keeps_edits(staged: Path) -> None:
    before = snapshot(staged)
    second = install(staged, "--no-venv")
    assert snapshot(staged) == before
    assert "installed /" not in second.stdout and "updated /" not in second.stdout

    config = staged / "etc/evaluator/config.yaml"
    config.write_text(config.read_text().replace("name: 1号窗口", "name: 7号窗口"))
    edited = snapshot(staged)
    third = install(staged, "--no-venv")
    assert snapshot(staged) == edited
    assert "kept /etc/evaluator/config.yaml" in third.stdout
    assert load(config).counter.name == "7号窗口"


def test_panel_specific_rule_replaces_the_generic_ones_and_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root, "--no-venv", "--panel-vendor", "0x1A86", "--panel-product", "7523", "--panel-serial", "A9-01")
    rule = root / "etc/udev/rules.d/99-evaluator-panel.rules"
    assert udev_matches(rule.read_text()) == {("1a86", "7523", "A9-01")}
    again = install(root, "--no-venv")  # an upgrade run without the flags keeps this panel's rule
    assert udev_matches(rule.read_text()) == {("1a86", "7523", "A9-01")}
    assert "kept the panel-specific udev rule" in again.stdout


@pytest.mark.parametrize("args, message", [
    (["--panel-vendor", "1a8"], "4 hex digits"),
    (["--panel-vendor", "1a86"], "go together"),
    (["--panel-vendor", "1a86", "--panel-product", "7523", "--panel-serial", 'x" RUN+="/bin/sh'], "--panel-serial"),
    (["--bogus"], "unknown option"),
])
def test_bad_arguments_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    result = install(tmp_path / "root", "--no-venv", *args, check=False)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "root/opt").exists()


def test_no_venv_needs_root_option() -> None:
    # Refused while parsing the arguments, before anything is installed on this machine.
    result = subprocess.run(["bash", str(REPO / "deploy/install.sh"), "--no-venv"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2 and "--no-venv only makes sense with --root" in result.stderr


def test_pi_cmdline_gets_consoleblank_once_and_loses_it_on_uninstall(tmp_path: Path) -> None:
    root = tmp_path / "root"
    cmdline = root / "boot/firmware/cmdline.txt"
    cmdline.parent.mkdir(parents=True)
    original = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 fsck.repair=yes rootwait\n"
    cmdline.write_text(original)
    install(root, "--no-venv")
    assert cmdline.read_text() == original.rstrip("\n") + " consoleblank=0\n"
    assert not (root / "etc/default/grub.d/evaluator.cfg").exists()  # a Pi has no GRUB
    install(root, "--no-venv")
    assert cmdline.read_text().count("consoleblank=0") == 1
    install(root, "--uninstall")
    assert cmdline.read_text() == original
    assert not (root / "boot/firmware/cmdline.txt.evaluator-orig").exists()


def test_restart_backoff_dropin_only_for_systemd_254_and_later(tmp_path: Path) -> None:
    # The installer reads the image's systemd version from the name of its shared library; an empty
    # file of that name stands in for the library here.
    for version, expected in ((252, False), (257, True)):
        root = tmp_path / f"root-{version}"
        lib = root / f"usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-{version}.so"
        lib.parent.mkdir(parents=True)
        lib.touch()
        install(root, "--no-venv")
        dropin = root / "etc/systemd/system/evaluator-sync.service.d/restart-backoff.conf"
        assert dropin.exists() is expected, version


def test_uninstall_keeps_data_and_config(staged: Path) -> None:
    (staged / "var/lib/evaluator/evaluator.db").write_bytes(b"ratings")
    (staged / "etc/evaluator/secrets/device.key").write_text("key")
    config = (staged / "etc/evaluator/config.yaml").read_text()
    install(staged, "--uninstall")
    assert not (staged / "opt/evaluator").exists()
    assert not list((staged / "etc/udev/rules.d").glob("99-evaluator-*"))
    assert not list((staged / "etc/systemd/system").rglob("evaluator-*"))
    assert (staged / "var/lib/evaluator/evaluator.db").read_bytes() == b"ratings"
    assert (staged / "etc/evaluator/secrets/device.key").read_text() == "key"
    assert (staged / "etc/evaluator/config.yaml").read_text() == config
    assert mode(staged / "etc/evaluator/secrets") == 0o700

    install(staged, "--no-venv")  # installing again picks up the kept config and data
    assert (staged / "etc/evaluator/config.yaml").read_text() == config
    assert (staged / "var/lib/evaluator/evaluator.db").read_bytes() == b"ratings"


def test_purge_removes_everything(staged: Path) -> None:
    dropins = staged / "etc/systemd/system/evaluator-kiosk.service.d"
    dropins.mkdir()
    (dropins / "x11.conf").write_bytes((REPO / "deploy/systemd/x11.conf").read_bytes())
    install(staged, "--uninstall", "--purge")
    files = [p.relative_to(staged) for p in staged.rglob("*") if not p.is_dir() or p.is_symlink()]
    assert files == []


def test_owners_recorded_under_root_apply_with_systemd_tools(staged: Path) -> None:
    """What an image build does with the recorded owners: systemd-sysusers and systemd-tmpfiles --root."""
    if not IS_ROOT:
        pytest.skip("systemd-tmpfiles needs root to chown")
    sysusers, tmpfiles = require("systemd-sysusers"), require("systemd-tmpfiles")
    (staged / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (staged / "etc/group").write_text(
        "root:x:0:\ndialout:x:20:\nvideo:x:44:\ninput:x:105:\nrender:x:106:\naudio:x:29:\n")
    subprocess.run([sysusers, f"--root={staged}", "evaluator.conf"], check=True, capture_output=True)
    subprocess.run([tmpfiles, f"--root={staged}", "--create", "evaluator.conf"], check=True, capture_output=True)
    passwd = dict(line.split(":")[0:3:2] for line in (staged / "etc/passwd").read_text().splitlines())
    uid = int(passwd["evaluator"])
    groups = {line.split(":")[0]: line.split(":")[3] for line in (staged / "etc/group").read_text().splitlines()}
    assert all("evaluator" in groups[g].split(",") for g in ("dialout", "video", "render", "input", "audio"))
    for path, expected_mode in (("var/lib/evaluator", 0o750), ("var/lib/evaluator/kivy", 0o750),
                                ("etc/evaluator/secrets", 0o700)):
        st = (staged / path).stat()
        assert (st.st_uid, st.st_mode & 0o7777) == (uid, expected_mode), path
    st = (staged / "etc/evaluator/config.yaml").stat()  # root's, readable
    assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o644)


def test_wheel_names_the_release(tmp_path: Path) -> None:
    # With --no-venv the wheel is never opened, only its name read: an empty file of that name will do.
    wheel = tmp_path / "satisfaction_evaluator-9.8.7-py3-none-any.whl"
    wheel.touch()
    root = tmp_path / "root"
    install(root, "--no-venv", "--wheel", str(wheel))
    assert os.readlink(root / "opt/evaluator/current") == "releases/9.8.7"
    install(root, "--no-venv")  # back to the repo's version: the link moves, both releases stay
    assert os.readlink(root / "opt/evaluator/current") == f"releases/{VERSION}"
    assert sorted(p.name for p in (root / "opt/evaluator/releases").iterdir()) == sorted({"9.8.7", VERSION})


X11_FILES = ("etc/systemd/system/evaluator-kiosk.service.d/x11.conf",
             "etc/X11/xorg.conf.d/10-evaluator-kiosk.conf")
LOCKDOWN = {"etc/systemd/logind.conf.d/evaluator-kiosk.conf": "kiosk/logind-kiosk.conf",
            "etc/sysctl.d/90-evaluator-kiosk.conf": "kiosk/sysctl-kiosk.conf"}


def test_x11_and_back_to_the_console(tmp_path: Path) -> None:
    root = tmp_path / "root"
    config = root / "etc/evaluator/config.yaml"
    install(root, "--no-venv")
    assert load(config).ui.input.value == "touchscreen"
    (root / "etc/X11").mkdir(parents=True)
    wrapper = root / "etc/X11/Xwrapper.config"
    wrapper.write_text("allowed_users=anybody\nneeds_root_rights=yes\n")  # what the root-Xorg installer wrote

    switched = install(root, "--no-venv", "--x11")  # the kept config follows the switch
    dropin, snippet = (root / path for path in X11_FILES)
    assert dropin.read_bytes() == (REPO / "deploy/systemd/x11.conf").read_bytes() and mode(dropin) == 0o644
    assert snippet.read_bytes() == (REPO / "deploy/kiosk/xorg-kiosk.conf").read_bytes() and mode(snippet) == 0o644
    assert load(config).ui.input.value == "desktop"  # X11 makes touches pointer events
    assert mode(config) == 0o644  # still readable by the app after the edit
    assert "set ui.input: desktop" in switched.stdout
    assert not wrapper.exists()  # Xorg runs rootless: no wrapper config

    again = install(root, "--no-venv", "--x11")  # a rerun in the same mode keeps the technician's choice
    assert "ui.input" not in again.stdout

    back = install(root, "--no-venv")  # back to the console
    assert not dropin.exists() and not snippet.exists() and not dropin.parent.exists()
    assert load(config).ui.input.value == "touchscreen" and "set ui.input: touchscreen" in back.stdout
    assert "console again" in back.stdout


def test_a_wrapper_config_not_written_by_us_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "root"
    wrapper = root / "etc/X11/Xwrapper.config"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text("allowed_users=console\n")  # Debian's own
    install(root, "--no-venv", "--x11")
    install(root, "--uninstall")
    assert wrapper.read_text() == "allowed_users=console\n"


def test_kiosk_lockdown_installed_and_uninstalled(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root, "--no-venv", "--x11")
    for path, source in LOCKDOWN.items():
        assert (root / path).read_bytes() == (REPO / "deploy" / source).read_bytes() and mode(root / path) == 0o644
    logind = directives(root / "etc/systemd/logind.conf.d/evaluator-kiosk.conf")
    assert ("Login", "NAutoVTs", "0") in logind and ("Login", "ReserveVT", "0") in logind
    sysctl = [line.replace(" ", "") for line in (root / "etc/sysctl.d/90-evaluator-kiosk.conf").read_text().splitlines()
              if line and not line.startswith("#")]
    assert sysctl == ["kernel.sysrq=0"]
    xorg = (root / X11_FILES[1]).read_text()
    assert re.search(r'Section "ServerFlags"(.|\n)*Option "DontVTSwitch" "true"(.|\n)*Option "DontZap" "true"', xorg)

    install(root, "--uninstall")  # without --purge: the data stays, the lockdown and the x11 files go
    for path in (*LOCKDOWN, *X11_FILES):
        assert not (root / path).exists(), path
    assert not list((root / "etc/systemd/system").rglob("evaluator-*"))


def test_help_lists_x11_as_an_install_option() -> None:
    result = subprocess.run(["bash", str(REPO / "deploy/install.sh"), "--help"], capture_output=True, text=True,
                            check=True)
    install_part, uninstall_part = result.stdout.split("Uninstall:")
    assert "--x11" in install_part and "--x11" not in uninstall_part
