"""Each unit's local day committed as a published digest, and the proof that a rating is in it.

A digest (table `public_digests`, docs/public.md "Results and digests") is the Merkle root (centre/public/
merkle.py: RFC 6962 over SHA-256) over the day's leaves, with each device's last chain hash of the day:
- the day's leaves are the chain hashes (`ratings.hash`) of the ratings the centre counts in the unit on that
  local day: placed in the unit (`placed_unit_id`), `counted_at` on that day in the unit's zone, not recorded
  before the device's enrollment (they count nowhere) — whether an upheld appeal excluded them or not: they
  are still held;
- in the canonical order (device, seq): the id of the device whose chain holds it (`delivered_by`), compared
  as Unicode code points (never a database collation, which differs between SQLite and PostgreSQL), then seq;
- `device_tails`: {device: the hash of its last rating (highest seq) among the day's leaves}.

A digest is written once and its root never changed. A rating that arrives after its day was published (a
terminal offline for a while) makes a newer digest of the same day and marks the older `superseded`; both stay
published. The newer one is written only if the ratings known at the older one's publication still give the
older root: a rating removed or altered since is never papered over by a new root (`Outcome.MISMATCH`, logged
and nothing written), so a deletion stays detectable by anyone holding a receipt of that day.

Publishers are serialised (a PostgreSQL advisory lock; on SQLite the transaction writes first, which takes
the file's one write lock), so the housekeeping, a second process and the CLI never publish a day twice.
"""
from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select, text, update

from centre.db.public_tables import public_digests
from centre.db.rows import now_text, utcnow
from centre.db.tables import ratings, rollup_days, units
from centre.public.merkle import audit_path, merkle_root, verify_proof
from centre.registry.model import check_timezone
from centre.reports import day_bounds, unit_zone
from centre.rollups import Measure

log = logging.getLogger("centre.public.digests")

ADVISORY_LOCK = 0x6576616C_70756267 & 0x7FFFFFFFFFFFFFFF   # "evalpubg": the publishers', on PostgreSQL
# A rating's received_at is taken as its batch starts, so one received just before a publication may have been
# committed just after it: such ratings are ambiguous, and the digest's set is told by its root.
AMBIGUOUS_S = 120
MAX_TRIES = 4096           # combinations of ambiguous ratings tried before calling a digest inconsistent
COUNTED = (Measure.LEVEL.value, Measure.EXCLUDED.value)
_told: set[tuple[str, str, str]] = set()   # (unit, day, published_at) whose mismatch this process has logged


class Outcome(str, Enum):
    PUBLISHED = "published"        # the day's first digest
    REPUBLISHED = "republished"    # late ratings: a newer digest, the older marked superseded
    UNCHANGED = "unchanged"        # the newest digest still holds: nothing written
    MISMATCH = "mismatch"          # the ratings known at its publication no longer give its root: nothing written


@dataclass(frozen=True)
class Leaf:
    uuid: str
    device_id: str
    seq: int
    hash: str
    received_at: str


@dataclass(frozen=True)
class Digest:
    unit_id: str
    day: str
    root: str
    ratings: int
    device_tails: dict[str, str]
    published_at: str
    superseded: bool

    def as_json(self) -> dict[str, Any]:
        return {"unit_id": self.unit_id, "day": self.day, "root": self.root, "size": self.ratings,
                "device_tails": dict(sorted(self.device_tails.items())), "published_at": self.published_at,
                "superseded": self.superseded}


@dataclass(frozen=True)
class Publication:
    unit_id: str
    day: str
    outcome: Outcome
    digest: Digest | None = None       # the day's newest digest after the publication


# -- the day's leaves --------------------------------------------------------------------------------------


def day_leaves(conn: Connection, unit_id: str, day: date, zone: ZoneInfo | None = None) -> list[Leaf]:
    """The day's leaves in the canonical order (device, seq)."""
    start, end = day_bounds(day, zone or unit_zone(conn, unit_id))
    rows = conn.execute(select(ratings.c.uuid, ratings.c.delivered_by, ratings.c.seq, ratings.c.hash,
                               ratings.c.received_at)
                        .where(ratings.c.placed_unit_id == unit_id, ratings.c.counted_at >= start,
                               ratings.c.counted_at < end, ratings.c.before_enrollment.is_(False)))
    return sorted((Leaf(row.uuid, row.delivered_by, int(row.seq), row.hash, row.received_at) for row in rows),
                  key=lambda leaf: (leaf.device_id, leaf.seq))


def device_tails(leaves: Iterable[Leaf]) -> dict[str, str]:
    """{device: hash of its last leaf}: the leaves come in (device, seq) order, so the last one seen wins."""
    return {leaf.device_id: leaf.hash for leaf in leaves}


def root_of(leaves: Sequence[Leaf]) -> str:
    return merkle_root([leaf.hash for leaf in leaves])


def as_published(leaves: Sequence[Leaf], digest: Digest) -> list[Leaf]:
    """The leaves the digest was made of, as far as the ratings held now tell: those received before its
    publication (the ambiguous ones around it chosen by its root). When no choice gives its root, every leaf
    received up to its publication: a proof from them fails, as it should."""
    cut = (datetime.fromisoformat(digest.published_at) - timedelta(seconds=AMBIGUOUS_S)).isoformat()
    sure = [leaf for leaf in leaves if leaf.received_at <= cut]
    unsure = [leaf for leaf in leaves if cut < leaf.received_at <= digest.published_at]
    missing = digest.ratings - len(sure)
    if 0 <= missing <= len(unsure):
        tries = itertools.islice(itertools.combinations(unsure, missing), MAX_TRIES)
        for chosen in tries:
            candidate = _in_order([*sure, *chosen])
            if root_of(candidate) == digest.root:
                return candidate
    return _in_order([*sure, *unsure])


def _in_order(leaves: Iterable[Leaf]) -> list[Leaf]:
    return sorted(leaves, key=lambda leaf: (leaf.device_id, leaf.seq))


# -- the published rows ------------------------------------------------------------------------------------


def _digest(row: Any) -> Digest:
    return Digest(row.unit_id, row.day, row.root, int(row.ratings), dict(row.device_tails or {}), row.published_at,
                  bool(row.superseded))


def digests_of(conn: Connection, unit_id: str, day: date | str | None = None, limit: int | None = None
               ) -> list[Digest]:
    """The unit's digests (of `day`, or every day), newest day first and, within a day, newest first."""
    query = select(public_digests).where(public_digests.c.unit_id == unit_id)
    if day is not None:
        query = query.where(public_digests.c.day == str(day))
    query = query.order_by(public_digests.c.day.desc(), public_digests.c.published_at.desc())
    return [_digest(row) for row in conn.execute(query if limit is None else query.limit(limit))]


def newest(conn: Connection, unit_id: str, day: date | str) -> Digest | None:
    found = digests_of(conn, unit_id, day, limit=1)
    return found[0] if found else None


# -- publishing --------------------------------------------------------------------------------------------


def _serialise(conn: Connection, unit_id: str, day: str) -> None:
    """Hold the publishers' lock until the transaction ends (see the module's docstring)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    else:   # pysqlite begins at the first write: this one, so the reads below see every committed digest
        conn.execute(update(public_digests).where(public_digests.c.unit_id == unit_id, public_digests.c.day == day)
                     .values(superseded=public_digests.c.superseded))


def publish_day(engine: Engine, unit_id: str, day: date) -> Publication:
    """Publish the unit's local `day` (see the module's docstring for what, and when a newer digest is made)."""
    with engine.begin() as conn:
        zone = unit_zone(conn, unit_id)      # NotFound for a unit the registry does not hold
        _serialise(conn, unit_id, day.isoformat())
        return _publish(conn, unit_id, day, zone)


def _publish(conn: Connection, unit_id: str, day: date, zone: ZoneInfo) -> Publication:
    leaves = day_leaves(conn, unit_id, day, zone)
    root, key = root_of(leaves), day.isoformat()
    older = newest(conn, unit_id, key)
    if older is not None and older.root == root and older.ratings == len(leaves):
        return Publication(unit_id, key, Outcome.UNCHANGED, older)
    if older is not None and root_of(as_published(leaves, older)) != older.root:
        if (unit_id, key, older.published_at) not in _told:    # the housekeeping finds it again every pass
            _told.add((unit_id, key, older.published_at))
            log.error("digest of unit %s, %s: the ratings held no longer give the root published at %s (%d rating(s) "
                      "then, %d now): a rating removed or altered; nothing published", unit_id, key,
                      older.published_at, older.ratings, len(leaves))
        return Publication(unit_id, key, Outcome.MISMATCH, older)
    at = now_text()
    if older is not None and at <= older.published_at:      # a clock set back: keep the days' order
        at = (datetime.fromisoformat(older.published_at) + timedelta(microseconds=1)).isoformat()
    made = Digest(unit_id, key, root, len(leaves), device_tails(leaves), at, False)
    conn.execute(public_digests.insert().values(unit_id=unit_id, day=key, root=root, ratings=len(leaves),
                                                device_tails=made.device_tails, published_at=at, superseded=False))
    if older is None:
        return Publication(unit_id, key, Outcome.PUBLISHED, made)
    conn.execute(update(public_digests).where(public_digests.c.unit_id == unit_id, public_digests.c.day == key,
                                              public_digests.c.published_at < at)
                 .values(superseded=True))
    return Publication(unit_id, key, Outcome.REPUBLISHED, made)


@dataclass
class _Window:
    """What publish_due reads once for every unit: the newest digests and the counts of the days it covers."""

    first: str
    last: str
    published: dict[tuple[str, str], int] = field(default_factory=dict)    # (unit, day) → ratings
    counted: Counter[tuple[str, str]] = field(default_factory=Counter)     # (unit, day) → ratings held


def due_days(now: datetime, zone: ZoneInfo, grace_hours: float, days_back: int) -> list[date]:
    """The unit's local days due for publication at `now`, newest first: yesterday once local midnight plus
    the grace has passed (the day before until then), and the `days_back` − 1 days before it."""
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), datetime.min.time(), zone)
    last = local.date() - timedelta(days=1 if local >= midnight + timedelta(hours=grace_hours) else 2)
    return [last - timedelta(days=back) for back in range(days_back)]


def publish_due(engine: Engine, now: datetime | None = None, grace_hours: float = 2.0,
                days_back: int = 7) -> list[Publication]:
    """Publish every unit's due days (due_days) that have no digest yet, or more ratings now than their newest
    digest (late arrivals, counted from rollup_days). Cheap when all is published: three queries."""
    now = now or utcnow()
    with engine.connect() as conn:
        zones = {row.id: check_timezone(row.timezone) for row in conn.execute(select(units.c.id, units.c.timezone))}
        due = {unit: due_days(now, zone, grace_hours, days_back) for unit, zone in zones.items()}
        days = [day.isoformat() for found in due.values() for day in found]
        if not days:
            return []
        window = _window(conn, min(days), max(days))
    done = []
    for unit, unit_days in sorted(due.items()):
        for day in unit_days:
            key = (unit, day.isoformat())
            if key not in window.published or window.counted[key] != window.published[key]:
                done.append(publish_day(engine, unit, day))
    return done


def _window(conn: Connection, first: str, last: str) -> _Window:
    window = _Window(first, last)
    digest = public_digests.c
    for row in conn.execute(select(digest.unit_id, digest.day, digest.ratings)
                            .where(digest.day >= first, digest.day <= last, digest.superseded.is_(False))
                            .order_by(digest.published_at)):
        window.published[(row.unit_id, row.day)] = int(row.ratings)
    days = rollup_days.c
    for row in conn.execute(select(days.unit_id, days.day, func.sum(days.n).label("n"))
                            .where(days.day >= first, days.day <= last, days.measure.in_(COUNTED))
                            .group_by(days.unit_id, days.day)):
        window.counted[(row.unit_id, row.day)] = int(row.n or 0)
    return window


# -- the proof of a rating ---------------------------------------------------------------------------------


class ProofState(str, Enum):
    VERIFIED = "verified"              # leaf `index` of the day's newest digest, and the path proves it
    FAILED = "failed"                  # the day's ratings held now do not prove it against the published root
    NOT_PUBLISHED = "not_published"    # its day has no digest yet (published after local midnight + the grace)
    LATE = "late"                      # it arrived after the day's newest digest: the next one will hold it
    UNKNOWN = "unknown"                # the centre holds no such rating, or one that counts nowhere


@dataclass(frozen=True)
class Proof:
    state: ProofState
    rating_uuid: str
    unit_id: str | None = None
    day: str | None = None
    leaf: str | None = None            # the rating's chain hash: the leaf as published
    index: int | None = None
    path: tuple[str, ...] = ()
    digest: Digest | None = None

    @property
    def verified(self) -> bool:
        return self.state is ProofState.VERIFIED

    def as_json(self) -> dict[str, Any]:
        """What anyone checks with their own code: merkle.verify_proof(leaf, index, size, path, root)."""
        return {"rating_uuid": self.rating_uuid, "state": self.state.value, "unit_id": self.unit_id,
                "day": self.day, "leaf": self.leaf, "index": self.index,
                "size": self.digest.ratings if self.digest else None, "path": list(self.path),
                "root": self.digest.root if self.digest else None,
                "published_at": self.digest.published_at if self.digest else None, "verified": self.verified,
                "construction": "RFC 6962 Merkle tree, SHA-256: leaf = H(0x00 || rating hash bytes), "
                                "node = H(0x01 || left || right); leaves ordered by (device, seq)"}


def proof(conn: Connection, rating_uuid: str, device_id: str | None = None) -> Proof:
    """The inclusion proof of a rating (of `device_id`, when given: a receipt's) in its day's newest digest,
    checked here with merkle.verify_proof against the published root (never against a root recomputed now)."""
    row = conn.execute(select(ratings.c.placed_unit_id, ratings.c.counted_at, ratings.c.hash, ratings.c.device_id,
                              ratings.c.before_enrollment).where(ratings.c.uuid == rating_uuid)).first()
    if row is None or row.before_enrollment or device_id not in (None, row.device_id):
        return Proof(ProofState.UNKNOWN, rating_uuid)
    unit_id = row.placed_unit_id
    zone = unit_zone(conn, unit_id)
    day = datetime.fromisoformat(row.counted_at).astimezone(zone).date()
    found = Proof(ProofState.NOT_PUBLISHED, rating_uuid, unit_id, day.isoformat(), row.hash)
    digest = newest(conn, unit_id, day)
    if digest is None:
        return found
    leaves = as_published(day_leaves(conn, unit_id, day, zone), digest)
    index = next((i for i, leaf in enumerate(leaves) if leaf.uuid == rating_uuid), None)
    if index is None:
        return Proof(ProofState.LATE, rating_uuid, unit_id, day.isoformat(), row.hash, digest=digest)
    path = tuple(audit_path([leaf.hash for leaf in leaves], index))
    ok = verify_proof(row.hash, index, digest.ratings, path, digest.root)
    return Proof(ProofState.VERIFIED if ok else ProofState.FAILED, rating_uuid, unit_id, day.isoformat(), row.hash,
                 index, path, digest)


def holds(conn: Connection, unit_id: str, day: date) -> tuple[Digest | None, bool]:
    """The day's newest digest, and whether the ratings held now still give its root (as of its publication):
    what `evaluator centre digest verify` checks. (None, True) for a day not published."""
    digest = newest(conn, unit_id, day)
    if digest is None:
        return None, True
    leaves = day_leaves(conn, unit_id, day)
    return digest, root_of(as_published(leaves, digest)) == digest.root
