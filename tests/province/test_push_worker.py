"""`evaluator centre province push` as a running worker, from the city config: it keeps pushing until SIGTERM,
then stops between batches and says what it did."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import yaml

from centre.db.engine import open_engine
from centre.province.upload import Signing
from tests.centre.conftest import REPO
from tests.province import pushkit


def test_the_worker_runs_from_the_city_config_until_sigterm(tmp_path, tmp_path_factory):
    url = pushkit.demo_db(pushkit.base_dir(tmp_path_factory), tmp_path / "centre.db")
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    engine = open_engine(url, create=False)
    with pushkit.receiver(tmp_path / "province", keys) as province:
        config = tmp_path / "centre.yaml"
        config.write_text(yaml.safe_dump({"province": {
            "enabled": True, "endpoint_url": province.url, "key_file": str(keys.sender), "key_id": "city-0100",
            "batch_size": 20, "settle_s": 0, "idle_s": 0.2, "read_timeout_s": 5}}), encoding="utf-8")
        worker = subprocess.Popen([sys.executable, "-m", "centre.cli", "province", "push", "--config", str(config),
                                   "--db", url], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + pushkit.RUN_TIMEOUT_S
            while not (pushkit.states(engine).get("accepted") and not pushkit.states(engine).get("pending")):
                assert worker.poll() is None and time.monotonic() < deadline, worker.stderr.read() if \
                    worker.poll() is not None else pushkit.states(engine)
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
        held = province.held()
    accepted = pushkit.states(engine)["accepted"]
    engine.dispose()
    assert worker.returncode == 0, err
    assert f"accepted {accepted}," in out and "SIGTERM: stopping after this batch" in err
    assert sorted(held) == sorted(set(held)) and len(held) == accepted
