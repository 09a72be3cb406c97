"""The anchor: what the centre acknowledged, held against the store, so a cut or rewritten tail of synced ratings
fails `evaluator verify` although the chain that is left is intact. Against a real collector and real subprocesses."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from evaluator.terminal import open_store
from kiosk.store.sync_state import ANCHOR_FILE, read_anchor
from kiosk.store.tables import Channel
from tests.sync.conftest import fill, provisioned


def evaluator(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evaluator.cli", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=120)


def synced(collector, terminal_config, count: int):
    config = terminal_config()
    settings = provisioned(collector, config)
    fill(settings, count)
    done = evaluator(config, "sync", "--once")
    assert done.returncode == 0, done.stderr
    return config, settings


def as_root(settings, *statements: str) -> None:
    with sqlite3.connect(settings.store.path) as raw:                  # someone with root and sqlite3
        raw.execute("DROP TRIGGER ratings_no_update")
        raw.execute("DROP TRIGGER ratings_no_delete")
        for statement in statements:
            raw.execute(statement)


def test_a_cut_tail_of_synced_ratings_fails_verify(collector, terminal_config):
    config, settings = synced(collector, terminal_config, 6)
    anchor = read_anchor(settings.sync.state_dir)
    store = open_store(settings)
    assert anchor is not None and (anchor.seq, anchor.hash) == (6, store.recent_ratings(1)[0]["hash"])
    store.close()
    ok = evaluator(config, "verify")
    assert ok.returncode == 0 and "seq 6, the last the centre acknowledged" in ok.stdout

    as_root(settings, "DELETE FROM ratings WHERE seq >= 5")
    done = evaluator(config, "verify")
    assert done.returncode == 1
    assert "ratings after seq 4 were removed: the centre acknowledged seq 6" in done.stderr


def test_a_tail_cut_and_written_again_with_a_valid_chain_fails_verify(collector, terminal_config):
    config, settings = synced(collector, terminal_config, 6)
    as_root(settings, "DELETE FROM ratings WHERE seq >= 5")
    store = open_store(settings)                                       # two "better" ratings in their place:
    try:                                                               # the chain is whole again
        store.append_rating(5, Channel.TOUCH, "open")
        store.append_rating(5, Channel.TOUCH, "open")
        assert store.verify().ok
    finally:
        store.close()
    done = evaluator(config, "verify")
    assert done.returncode == 1
    assert "BROKEN at seq 6: seq 6 is not the rating the centre acknowledged" in done.stderr


def test_the_anchor_only_rises_and_a_damaged_one_is_named(collector, terminal_config):
    config, settings = synced(collector, terminal_config, 3)
    as_root(settings, "DELETE FROM ratings WHERE seq = 3")
    fill(settings, 1)                                                   # seq 3 again, another rating
    evaluator(config, "sync", "--once")                                 # the centre refuses it (a conflict)
    assert read_anchor(settings.sync.state_dir).seq == 3
    assert evaluator(config, "verify").returncode == 1

    (settings.sync.state_dir / ANCHOR_FILE).write_text(json.dumps({"seq": "many"}))
    done = evaluator(config, "verify")
    assert done.returncode == 1 and "is not an anchor" in done.stderr
