"""Two pushers at once on one centre database (SQLite and PostgreSQL): each record is claimed by one of them,
so none is sent twice (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: its single writer's lock)."""
from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

import pytest
from sqlalchemy import func, update

from centre.db.engine import open_engine
from centre.db.province_tables import province_records
from centre.db.tables import ratings
from centre.province import push
from centre.province.upload import Signing
from tests.centre.conftest import REPO, pg_url_or_skip, scratch_pg_database
from tests.province import pushkit


@pytest.fixture(params=["sqlite", "postgresql"])
def city_url(request, tmp_path, tmp_path_factory):
    if request.param == "sqlite":
        yield pushkit.demo_db(pushkit.base_dir(tmp_path_factory), tmp_path / "centre.db")
        return
    pg_url = pg_url_or_skip()
    with scratch_pg_database(pg_url) as url:
        done = subprocess.run([sys.executable, "-m", "centre.cli", "demo", "--units", "2", "--counters-per-unit",
                               "1", "--days", "1", "--until", pushkit.DEMO_DAY, "--db", url], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        engine = open_engine(url, create=False)
        with engine.begin() as conn:
            conn.execute(update(ratings).where(ratings.c.mode == "solicited", ratings.c.case_no.is_(None))
                         .values(case_no="C" + func.substr(ratings.c.uuid, 1, 8)))
        engine.dispose()
        yield url


def test_two_pushers_at_once_send_each_record_once(tmp_path, city_url):
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    engines = [open_engine(city_url, create=False) for _ in range(2)]
    try:
        with pushkit.receiver(tmp_path / "province", keys) as province:
            pusher = pushkit.job(province.url, keys, batch_size=5)
            start = threading.Barrier(2)
            summaries: list[push.Summary] = []

            def work(engine) -> None:   # type: ignore[no-untyped-def]
                start.wait()
                summaries.append(push.cycle(engine, pusher))

            threads = [threading.Thread(target=work, args=(engine,)) for engine in engines]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=pushkit.RUN_TIMEOUT_S)
            held = province.held()
        assert len(summaries) == 2, summaries   # (which of them sent what depends on the timing)
        accepted = pushkit.records(engines[0], province_records.c.state == "accepted")
        assert "pending" not in pushkit.states(engines[0])
        assert sum(each.sent for each in summaries) == len(accepted) == len(held) == len(set(held))
        assert Counter((row.attempts, row.answer_code) for row in accepted) == {(1, "0"): len(accepted)}
    finally:
        for engine in engines:
            engine.dispose()
