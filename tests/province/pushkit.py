"""What the push and receiver tests share: a small demo city, keys, the reference receiver as a real process on
127.0.0.1 (`evaluator centre province receiver`), and a push job with short timeouts."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import Engine, func, select, update

from centre.db.engine import open_engine
from centre.db.province_tables import province_pushes, province_records
from centre.db.tables import ratings
from centre.province import push
from centre.province.mapping import DEFAULT_MAPPING, load_mapping
from centre.province.settings import ProvinceSettings
from centre.province.signing import load_signer, sm2_new_keypair
from centre.province.upload import Signing
from tests.centre.conftest import REPO, START_TIMEOUT_S

RUN_TIMEOUT_S = 60
# The demo city's one day: a working day, fixed (the default, yesterday, is a weekend day's few ratings one day in
# three and a weekday's the others: every kind of record these tests count must be in it whatever the date).
DEMO_DAY = "2026-11-04"


def demo_db(base: Path, into: Path) -> str:
    """A copy of a small demo city (2 units, 1 counter each, 1 day), built once per run under a lock; its
    solicited ratings carry case numbers (the demo's terminals may not send them yet). Its URL."""
    built = base / "province-demo.db"
    with open(base / "province-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            partial = base / "province-demo.partial.db"
            partial.unlink(missing_ok=True)
            done = subprocess.run([sys.executable, "-m", "centre.cli", "demo", "--units", "2", "--counters-per-unit",
                                   "1", "--days", "1", "--until", DEMO_DAY, "--db", f"sqlite:///{partial}"], cwd=REPO,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            engine = open_engine(f"sqlite:///{partial}", create=False)
            with engine.begin() as conn:
                conn.execute(update(ratings).where(ratings.c.mode == "solicited", ratings.c.case_no.is_(None))
                             .values(case_no="C" + func.substr(ratings.c.uuid, 1, 8)))
            engine.dispose()
            partial.rename(built)
    shutil.copyfile(built, into)
    return f"sqlite:///{into}"


def base_dir(tmp_path_factory: Any) -> Path:
    return tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") \
        else tmp_path_factory.getbasetemp()


@dataclass(frozen=True)
class Keys:
    signing: Signing
    sender: Path      # the HMAC secret, or the SM2 private key
    receiver: Path    # the HMAC secret, or the SM2 public key


def make_keys(folder: Path, signing: Signing, name: str = "city") -> Keys:
    folder.mkdir(parents=True, exist_ok=True)
    if signing is Signing.HMAC_SHA256:
        secret = folder / f"{name}.secret"
        secret.write_text(f"{name}: a secret shared with the province\n")
        return Keys(signing, secret, secret)
    private, public = sm2_new_keypair()
    (folder / f"{name}.sm2").write_text(private + "\n")
    (folder / f"{name}.sm2.pub").write_text("04" + public + "\n")
    return Keys(signing, folder / f"{name}.sm2", folder / f"{name}.sm2.pub")


def write_mapping(path: Path, **changes: Any) -> Path:
    """A copy of the shipped mapping with top-level keys changed (`upload` merged into its section)."""
    raw = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    for key, value in changes.items():
        raw[key] = {**raw.get(key, {}), **value} if key == "upload" else value
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Receiver:
    url: str
    db: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def held(self) -> list[str]:
        """The record ids the receiver holds, one per row (a record held twice would show twice)."""
        with sqlite3.connect(self.db) as db:
            return [row[0] for row in db.execute("SELECT record_id FROM received")]

    def requests_seen(self) -> int:
        return int(requests.get(self.url, timeout=5).json()["requests"])


@contextmanager
def receiver(folder: Path, keys: Keys, mapping: Path | None = None, faults: str = "") -> Iterator[Receiver]:
    """The reference receiver as a real process on a free port of 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "centre.cli", "province", "receiver", "--port", "0", "--db",
            str(folder / "received.db"), "--key-file", str(keys.receiver), "--faults", faults]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    ready = threading.Event()
    url: list[str] = []

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            if line.startswith("receiver listening on "):
                url.append(line.split()[3])
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or not url:
        process.kill()
        raise RuntimeError("the receiver did not start:\n" + "".join(log))
    try:
        yield Receiver(url[0] + "/api/haochaping/upload", folder / "received.db", process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def settings(endpoint: str, keys: Keys, **changes: Any) -> ProvinceSettings:
    """Settings for tests: short timeouts and backoffs, nothing left to settle."""
    values: dict[str, Any] = {"enabled": True, "endpoint_url": endpoint, "key_file": keys.sender, "batch_size": 10,
                              "connect_timeout_s": 2.0, "read_timeout_s": 2.0, "backoff_base_s": 0.01,
                              "backoff_cap_s": 0.05, "settle_s": 0.0, "idle_s": 0.1, **changes}
    return ProvinceSettings(**values)


def job(endpoint: str, keys: Keys, mapping: Path | None = None, **changes: Any) -> push.PushJob:
    loaded = load_mapping(mapping)
    return push.PushJob(settings(endpoint, keys, **changes), loaded, load_signer(loaded.upload.signing, keys.sender))


def push_until_settled(engine: Engine, pusher: push.PushJob) -> push.Summary:
    """Cycles until no record is pending (each failed one is due again after its short backoff)."""
    total = push.cycle(engine, pusher)   # the first makes the records
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while states(engine).get("pending"):
        assert time.monotonic() < deadline, f"still pending after {RUN_TIMEOUT_S} s: {states(engine)}"
        total.add(push.cycle(engine, pusher))
    return total


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        found: dict[str, int] = {}
        for (state,) in conn.execute(select(province_records.c.state)):
            found[state] = found.get(state, 0) + 1
        return found


def records(engine: Engine, *where: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(province_records).where(*where).order_by(province_records.c.record_id)))


def pushes(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(province_pushes).order_by(province_pushes.c.id)))


def signing_mapping(folder: Path, signing: Signing) -> Path | None:
    """The mapping that signs with `signing` (None: the shipped one, which signs with HMAC)."""
    if signing is Signing.HMAC_SHA256:
        return None
    return write_mapping(folder / "sm2-mapping.yaml", upload={"signing": signing.value})


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
