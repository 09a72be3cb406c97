"""The published daily digests (centre/public/digests.py) and their Merkle tree (centre/public/merkle.py).

The tree is checked against RFC 6962's definition written out literally here (recursive, split at the largest
power of two), and by property: any set of leaves, every proof verifies; a flipped bit or a removed leaf fails.
The publication runs on a real database (SQLite; PostgreSQL when EVALUATOR_TEST_PG_URL is set) with ratings put
through the real ingest.
"""
from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select

from centre import cli
from centre.cityconfig import CityConfig
from centre.db.public_tables import public_digests
from centre.db.tables import ratings
from centre.housekeeping import Housekeeping
from centre.public import digests
from centre.public.digests import Outcome, ProofState
from centre.public.merkle import EMPTY_ROOT, audit_path, leaf_hash, merkle_root, node_hash, verify_proof
from contract import iso_utc, rating_hash
from tests.centre import casekit

engine = casekit.engine_fixture()
SHANGHAI = ZoneInfo("Asia/Shanghai")

hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)


# -- the tree -------------------------------------------------------------------------------------------------


def rfc6962_root(leaves: list[str]) -> bytes:
    """MTH(D[n]) as RFC 6962 §2.1 writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + bytes.fromhex(leaves[0])).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])).digest()


def rfc6962_path(index: int, leaves: list[str]) -> list[str]:
    """PATH(m, D[n]) as RFC 6962 §2.1.1 writes it."""
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if index < k:
        return [*rfc6962_path(index, leaves[:k]), rfc6962_root(leaves[k:]).hex()]
    return [*rfc6962_path(index - k, leaves[k:]), rfc6962_root(leaves[:k]).hex()]


def flip(hex_text: str, bit: int) -> str:
    raw = bytearray(bytes.fromhex(hex_text))
    raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
    return raw.hex()


def test_tree_is_rfc6962s_for_every_size_up_to_70() -> None:
    for size in range(71):
        leaves = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(size)]
        assert merkle_root(leaves) == rfc6962_root(leaves).hex()
        for index in range(size):
            assert audit_path(leaves, index) == rfc6962_path(index, leaves)
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").hexdigest()


def test_a_leaf_cannot_pose_as_a_node() -> None:
    a, b = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    two = merkle_root([a, b])
    inner = node_hash(leaf_hash(a), leaf_hash(b))
    assert two == inner.hex()
    # the node's 64 bytes given as a "leaf" are refused, and its hash as a leaf would differ from the node's
    assert not verify_proof(inner.hex(), 0, 1, [], two)
    assert hashlib.sha256(b"\x00" + leaf_hash(a) + leaf_hash(b)).hexdigest() != two


@settings(max_examples=60, deadline=None)
@given(leaves=st.lists(hashes, min_size=1, max_size=70), data=st.data())
def test_every_proof_verifies_and_any_change_fails(leaves: list[str], data: st.DataObject) -> None:
    root, size = merkle_root(leaves), len(leaves)
    for index, leaf in enumerate(leaves):
        assert verify_proof(leaf, index, size, audit_path(leaves, index), root)
    index = data.draw(st.integers(0, size - 1), label="index")
    path = audit_path(leaves, index)
    bit = data.draw(st.integers(0, 255), label="bit")
    assert not verify_proof(flip(leaves[index], bit), index, size, path, root)
    assert not verify_proof(leaves[index], index, size, path, flip(root, bit))
    if path:
        step = data.draw(st.integers(0, len(path) - 1), label="step")
        assert not verify_proof(leaves[index], index, size, [*path[:step], flip(path[step], bit), *path[step + 1:]],
                                root)
    if size > 1:
        removed = data.draw(st.integers(0, size - 1), label="removed")
        fewer = leaves[:removed] + leaves[removed + 1:]
        assert merkle_root(fewer) != root
        kept = index if index < removed else index - 1
        if index != removed:   # the proof of a leaf still there, against the root of the day before the removal
            assert not verify_proof(leaves[index], kept, size - 1, audit_path(fewer, kept), root)
        assert not verify_proof(leaves[index], index, size, path[:-1], root) or not path


def test_malformed_proofs_are_false_never_an_error() -> None:
    leaves = [hashlib.sha256(bytes([i])).hexdigest() for i in range(5)]
    root, path = merkle_root(leaves), audit_path(leaves, 2)
    for args in ((leaves[2], 2, 5, path, root.upper()), (leaves[2], 5, 5, path, root), (leaves[2], -1, 5, path, root),
                 (leaves[2], 2, 0, path, root), ("zz", 2, 5, path, root), (leaves[2], 2, 5, ["x"], root),
                 (leaves[2], 2, 5, [*path, path[0]], root), (leaves[2], 2, 4, path, root), (None, 2, 5, path, root)):
        assert verify_proof(*args) is False


# -- publishing -----------------------------------------------------------------------------------------------

DAY = (datetime.now(UTC) - timedelta(days=3)).astimezone(SHANGHAI).date()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(UTC)


def rate(device: casekit.Terminal, level: int, when: datetime, received: datetime | None = None) -> str:
    """One rating recorded at `when`, sent then and received then (or later: a late batch); its uuid."""
    return send(device, device.rating(level, when), received or when)


def send(device: casekit.Terminal, rating: dict[str, Any], received: datetime) -> str:
    device.send(device.batch([rating], sent_at=received), received=received)
    return str(rating["uuid"])


def rows(engine: Engine, unit: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(public_digests).where(public_digests.c.unit_id == unit)
                                 .order_by(public_digests.c.published_at)))


def proof_of(engine: Engine, uuid: str) -> digests.Proof:
    with engine.connect() as conn:
        return digests.proof(conn, uuid)


def test_a_day_is_published_once_and_each_rating_proves_its_place(engine: Engine) -> None:
    first = casekit.terminal(engine, "u-pub")
    mine = [rate(first, 5, at(DAY, 9)), rate(first, 4, at(DAY, 10)), rate(first, 1, at(DAY, 16))]
    before = proof_of(engine, mine[0])
    assert before.state is ProofState.NOT_PUBLISHED and before.day == DAY.isoformat()
    rate(first, 3, at(DAY + timedelta(days=1), 0, 30))      # the next local day: not in this one
    rate(first, 2, at(DAY, 0, 10) - timedelta(minutes=20))  # 23:50 the day before
    done = digests.publish_day(engine, "u-pub", DAY)
    assert done.outcome is Outcome.PUBLISHED and done.digest is not None
    assert done.digest.ratings == 3 and not done.digest.superseded
    with engine.connect() as conn:
        leaves = digests.day_leaves(conn, "u-pub", DAY)
        held = {row.uuid: row.hash for row in conn.execute(select(ratings.c.uuid, ratings.c.hash))}
    assert [leaf.uuid for leaf in leaves] == mine
    assert done.digest.root == merkle_root([held[uuid] for uuid in mine])
    assert done.digest.device_tails == {first.device_id: held[mine[-1]]}
    assert digests.publish_day(engine, "u-pub", DAY).outcome is Outcome.UNCHANGED
    assert len(rows(engine, "u-pub")) == 1
    for index, uuid in enumerate(mine):
        found = proof_of(engine, uuid)
        assert found.state is ProofState.VERIFIED and found.index == index and found.leaf == held[uuid]
        assert found.digest is not None and found.leaf is not None and found.index is not None
        assert verify_proof(found.leaf, found.index, found.digest.ratings, list(found.path), found.digest.root)
    assert proof_of(engine, "no-such-rating").state is ProofState.UNKNOWN


def test_leaves_come_in_device_then_seq_order(engine: Engine) -> None:
    a, b = casekit.terminal(engine, "u-order"), casekit.terminal(engine, "u-order-2")
    made = [(b.device_id, rate(b, 5, at(DAY, 9))), (a.device_id, rate(a, 5, at(DAY, 10))),
            (b.device_id, rate(b, 4, at(DAY, 11))), (a.device_id, rate(a, 3, at(DAY, 12)))]
    with engine.begin() as conn:   # b's ratings placed in the same unit, as a second counter's would be
        conn.execute(ratings.update().values(placed_unit_id="u-order"))
        leaves = digests.day_leaves(conn, "u-order", DAY)
    expected = [uuid for _, uuid in sorted(made, key=lambda pair: (pair[0], made.index(pair)))]
    assert [leaf.uuid for leaf in leaves] == expected
    tails = digests.device_tails(leaves)
    assert set(tails) == {a.device_id, b.device_id}


def test_before_enrollment_ratings_are_not_leaves(engine: Engine) -> None:
    device = casekit.terminal(engine, "u-pre")
    early = device.rating(5, at(DAY, 8))
    early.update(device_id="kiosk-local-id")
    early["hash"] = device.last_hash = rating_hash(early)
    send(device, early, at(DAY, 8))
    counted = rate(device, 4, at(DAY, 9))
    with engine.connect() as conn:
        assert conn.execute(select(ratings.c.before_enrollment).where(ratings.c.uuid == early["uuid"])).scalar()
        assert [leaf.uuid for leaf in digests.day_leaves(conn, "u-pre", DAY)] == [counted]
    assert proof_of(engine, early["uuid"]).state is ProofState.UNKNOWN


def test_a_late_rating_makes_a_newer_digest_and_the_older_stays(engine: Engine) -> None:
    device = casekit.terminal(engine, "u-late")
    kept = [rate(device, 5, at(DAY, 9)), rate(device, 4, at(DAY, 10))]
    old = digests.publish_day(engine, "u-late", DAY).digest
    assert old is not None
    late = device.rating(2, at(DAY, 17))
    send(device, late, datetime.now(UTC))
    assert proof_of(engine, late["uuid"]).state is ProofState.LATE
    assert proof_of(engine, kept[0]).state is ProofState.VERIFIED      # still, against the older digest
    done = digests.publish_day(engine, "u-late", DAY)
    assert done.outcome is Outcome.REPUBLISHED and done.digest is not None and done.digest.ratings == 3
    older, newer = rows(engine, "u-late")
    assert (older.root, older.ratings, older.superseded) == (old.root, 2, True)    # never an update of a root
    assert (newer.root, newer.superseded) == (done.digest.root, False)
    assert all(proof_of(engine, uuid).state is ProofState.VERIFIED for uuid in [*kept, late["uuid"]])
    with engine.connect() as conn:
        assert [d.superseded for d in digests.digests_of(conn, "u-late", DAY)] == [False, True]


def test_a_deleted_rating_fails_its_days_proofs_and_is_never_papered_over(engine: Engine) -> None:
    device = casekit.terminal(engine, "u-del")
    made = [rate(device, level, at(DAY, 9 + level)) for level in (5, 4, 3, 1)]
    published = digests.publish_day(engine, "u-del", DAY).digest
    assert published is not None
    with engine.begin() as conn:   # an insider removes a bad review, straight in the database
        conn.execute(delete(ratings).where(ratings.c.uuid == made[-1]))
    assert proof_of(engine, made[0]).state is ProofState.FAILED
    assert proof_of(engine, made[-1]).state is ProofState.UNKNOWN
    assert digests.publish_day(engine, "u-del", DAY).outcome is Outcome.MISMATCH
    late = device.rating(5, at(DAY, 18))    # and a late rating does not let a new root hide it either
    send(device, late, datetime.now(UTC))
    assert digests.publish_day(engine, "u-del", DAY).outcome is Outcome.MISMATCH
    assert [row.root for row in rows(engine, "u-del")] == [published.root]
    with engine.connect() as conn:
        assert digests.holds(conn, "u-del", DAY) == (digests.newest(conn, "u-del", DAY), False)


def test_due_days_wait_for_midnight_and_the_grace() -> None:
    zone = SHANGHAI
    early = datetime(2026, 6, 10, 1, 30, tzinfo=zone)
    later = datetime(2026, 6, 10, 2, 30, tzinfo=zone)
    assert digests.due_days(early, zone, 2.0, 2) == [date(2026, 6, 8), date(2026, 6, 7)]
    assert digests.due_days(later, zone, 2.0, 2) == [date(2026, 6, 9), date(2026, 6, 8)]
    assert digests.due_days(later.astimezone(UTC), ZoneInfo("America/New_York"), 0, 1) == [date(2026, 6, 8)]


def test_publish_due_is_idempotent_and_catches_late_ratings(engine: Engine) -> None:
    device = casekit.terminal(engine, "u-due")
    casekit.terminal(engine, "u-quiet")
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    yesterday = today - timedelta(days=1)
    rate(device, 5, at(yesterday, 9) if at(yesterday, 9) < datetime.now(UTC) else datetime.now(UTC))
    now = at(today, 3) if at(today, 3) < datetime.now(UTC) else datetime.now(UTC)
    first = digests.publish_due(engine, now, grace_hours=2.0, days_back=3)
    assert {(p.unit_id, p.outcome) for p in first} == {("u-due", Outcome.PUBLISHED), ("u-quiet", Outcome.PUBLISHED)}
    assert len(first) == 6    # two units, three days each (a quiet day is published empty)
    assert all(p.digest is not None and p.digest.root == EMPTY_ROOT for p in first if p.unit_id == "u-quiet")
    assert digests.publish_due(engine, now, grace_hours=2.0, days_back=3) == []   # a restart: nothing again
    day = digests.due_days(now, SHANGHAI, 2.0, 3)[1]
    send(device, device.rating(4, at(day, 11)), datetime.now(UTC))
    again = digests.publish_due(engine, now, grace_hours=2.0, days_back=3)
    assert [(p.unit_id, p.day, p.outcome) for p in again] == [("u-due", day.isoformat(), Outcome.REPUBLISHED)]


def test_the_housekeeping_publishes(engine: Engine) -> None:
    casekit.terminal(engine, "u-house")
    keeper = Housekeeping(engine, CityConfig())
    task = next(task for lane in keeper.lanes for task in lane.tasks if task.name == "publish digests")
    task.run(datetime.now(UTC))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(public_digests)).scalar() == 7
    task.run(datetime.now(UTC))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(public_digests)).scalar() == 7


def test_two_publishers_at_once_publish_one_digest(engine: Engine) -> None:
    device = casekit.terminal(engine, "u-race")
    rate(device, 5, at(DAY, 9))
    start = threading.Barrier(4)
    outcomes: list[Outcome] = []

    def publish() -> None:
        start.wait()
        outcomes.append(digests.publish_day(engine, "u-race", DAY).outcome)

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == [Outcome.PUBLISHED, Outcome.UNCHANGED, Outcome.UNCHANGED, Outcome.UNCHANGED]
    assert len(rows(engine, "u-race")) == 1


def test_a_digest_as_json_is_what_the_page_serves(engine: Engine) -> None:
    device = casekit.terminal(engine, "u-json")
    rate(device, 5, at(DAY, 9))
    made = digests.publish_day(engine, "u-json", DAY).digest
    assert made is not None
    assert made.as_json() == {"unit_id": "u-json", "day": DAY.isoformat(), "root": made.root, "size": 1,
                              "device_tails": made.device_tails, "published_at": made.published_at,
                              "superseded": False}
    assert iso_utc(datetime.fromisoformat(made.published_at)) == made.published_at


def test_the_digest_commands(engine: Engine, capsys: Any) -> None:
    device = casekit.terminal(engine, "u-cli")
    mine = rate(device, 5, at(DAY, 9))
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["digest", "verify", "--day", DAY.isoformat(), "--db", url]) == 0
    assert "u-cli " + DAY.isoformat() + ": not published" in capsys.readouterr().out
    assert cli.main(["digest", "publish", "--day", DAY.isoformat(), "--unit", "u-cli", "--db", url]) == 0
    assert ": published; root " in capsys.readouterr().out
    assert cli.main(["digest", "verify", "--rating", mine, "--json", "--db", url]) == 0
    shown = capsys.readouterr().out
    assert '"state": "verified"' in shown and '"index": 0' in shown
    assert cli.main(["digest", "verify", "--day", DAY.isoformat(), "--db", url]) == 0
    assert "holds" in capsys.readouterr().out
    assert cli.main(["digest", "publish", "--day", DAY.isoformat(), "--unit", "no-such-unit", "--db", url]) == 2
    assert cli.main(["digest", "publish", "--db", url]) == 2     # a day is required
