"""Each delivering device's hash chain, checked once, at ingest: what the integrity report reads.

One row of `device_chains` (centre/db/tables.py) per device that delivered ratings: the chain is the
delivering device's (`ratings.delivered_by`, one seq order across its enrollment), with the ratings it
holds, its last seq and hash (of the rating stored last at the highest seq), the gaps in 1..last seq,
the chain breaks, and the ratings flagged as conflicts, before enrollment or claiming another place.
The rule is docs/sync-protocol.md's "Integrity, as the centre sees it":

- a seq held by two ratings or more breaks the chain (one replaced the other);
- a seq held by one rating breaks it when that rating's hash does not recompute (contract.rating_hash),
  or its prev_hash is not the hash of the one rating at seq − 1 (GENESIS_HASH at seq 1); a seq − 1
  missing, or held twice, checks no link.

`advance` runs in the ingest's transaction with the ratings it has just inserted. A rating changes only
its own seq's verdict and the next seq's (whose link it is), so a batch that extends the chain reads no
other rating: it links to the stored tail (last_seq, last_hash). Only a rating at or below the tail (a
gap filled late, a replaced rating) reads its neighbours, in one indexed lookup (ix_ratings_delivered_seq).
A device's first batch, with no row yet, is counted from its ratings as `recount` does. The device's row
is locked first (SELECT … FOR UPDATE; SQLite has one writer anyway), so two workers ingesting one device's
batches apply them one after the other, each seeing the other's ratings; two first batches at once both
insert the row, and the loser's unique violation is the race the ingest already retries.

Raw rows stay the truth: `recount` checks a device from its ratings alone, as the report once did on each
call; `centre.chain_recheck` (`evaluator centre integrity --recheck`) and migration 0006 (`rebuild_in`) use it.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, Text, bindparam, cast, func, inspect, null, select, update

from centre.db.rows import held_rating, now_text
from centre.db.tables import device_chains, ratings
from contract import GENESIS_HASH, HASHED_FIELDS, OPTIONAL_HASHED, RATING_FIELDS, rating_hash

LOOKUP_CHUNK = 500
STREAM_ROWS = 5000

Gap = tuple[int, int]    # an inclusive [first, last] range of missing seqs
RESULTS = ("ratings_held", "last_seq", "last_hash", "gaps", "chain_breaks", "conflicts", "before_enrollment",
           "placement_mismatches")


@dataclass
class Chain:
    """A device's chain as `device_chains` holds it; `Chain(device_id)` for a device without ratings."""

    device_id: str
    ratings_held: int = 0
    last_seq: int | None = None          # the highest seq held
    last_hash: str | None = None         # the hash of the rating stored last at last_seq
    gaps: list[Gap] = field(default_factory=list)
    chain_breaks: list[int] = field(default_factory=list)
    conflicts: int = 0
    before_enrollment: int = 0
    placement_mismatches: int = 0

    def differences(self, other: Chain) -> list[str]:
        return [name for name in RESULTS if getattr(self, name) != getattr(other, name)]


class Link(NamedTuple):
    """A rating as its chain sees it: its place, its claim about the one before, and whether its own hash
    recomputes from its fields. A tuple: one is made for every rating ingested (a frozen dataclass's
    construction cost as much as a tenth of hashing the rating)."""

    seq: int
    hash: str
    prev_hash: str | None      # None: not read (the stored tail, whose hash is all a batch needs of it)
    sound: bool


_SECOND = Link(0, "", None, False)   # stands for a rating held at a seq a new one also took: only the count counts


def link(row: Mapping[Any, Any]) -> Link:
    # A row as the ingest built it holds the wire's bool already: hashed as it is, without a copy made first.
    own = rating_hash(row if type(row["clock_suspect"]) is bool else held_rating(row, HASHED_FIELDS))
    return Link(row["seq"], row["hash"], row["prev_hash"], own == row["hash"])


def is_break(seq: int, here: Sequence[Link], before: Sequence[Link]) -> bool:
    """Whether `seq` breaks the chain, given the ratings held at it and at seq − 1."""
    if len(here) != 1:
        return len(here) > 1     # two ratings claim one place in the chain: one replaced the other
    expected = GENESIS_HASH if seq == 1 else (before[0].hash if len(before) == 1 else None)
    return not here[0].sound or (expected is not None and here[0].prev_hash != expected)


def _gap_at(gaps: Sequence[Gap], seq: int) -> int | None:
    """The index of the gap holding `seq` (gaps are sorted and apart), or None."""
    index = bisect_right(gaps, seq, key=lambda gap: gap[0]) - 1
    return index if index >= 0 and gaps[index][1] >= seq else None


# -- kept by the ingest --------------------------------------------------------------


_STORED = select(device_chains.c.device_id, *(device_chains.c[name] for name in RESULTS))
LOCKED = _STORED.where(device_chains.c.device_id == bindparam("device")).with_for_update()
_RATING_COLUMNS = tuple(ratings.c[name] for name in RATING_FIELDS)


def advance(conn: Connection, device_id: str, new_rows: Sequence[Mapping[Any, Any]], newly_flagged: int = 0) -> None:
    """Check the ratings one batch of `device_id` has just inserted (new rows only, not duplicates) against
    the device's stored chain, in the batch's transaction; `newly_flagged`: its held ratings this batch
    flagged as conflicts (a flag already set counts once)."""
    if not new_rows and not newly_flagged:
        return
    found = conn.execute(LOCKED, {"device": device_id}).first()
    if found is None:    # the device's first batch (or a row lost): counted from its raw rows, once
        if conn.execute(_HELD_COUNT, {"device": device_id}).scalar_one() == len(new_rows):
            # The batch's rows are all the device holds: walked as they are, not read back.
            _write(conn, _walked(device_id, new_rows), exists=False)
        else:
            replace_chain(conn, device_id, None)
        return
    before = _chain(found)
    after = _extended(conn, before, [link(row) for row in new_rows]) if new_rows else replace(before)
    after.ratings_held += len(new_rows)
    after.conflicts += newly_flagged + sum(1 for row in new_rows if row["conflict"])
    after.before_enrollment += sum(1 for row in new_rows if row["before_enrollment"])
    after.placement_mismatches += sum(1 for row in new_rows if row["placement_differs"])
    _write(conn, after, exists=True)


class _Around:
    """The ratings held after a batch at the seqs it touches (its own and their neighbours): from the batch,
    from the stored tail, or read in one lookup where neither tells."""

    def __init__(self, conn: Connection, before: Chain, links: list[Link]) -> None:
        self.before = before
        self.new: dict[int, list[Link]] = {}
        for item in links:
            self.new.setdefault(item.seq, []).append(item)
        self.read = _read(conn, before.device_id, self._unknown())

    def held(self, seq: int) -> bool:
        """Whether a rating stood at `seq` before the batch: at or below the tail, outside every gap."""
        last = self.before.last_seq
        return last is not None and 1 <= seq <= last and _gap_at(self.before.gaps, seq) is None

    def _unknown(self) -> set[int]:
        tail = self.before.last_seq if self.before.last_seq not in self.before.chain_breaks else None
        wanted = set()
        for seq in self.new:
            for near in (seq - 1, seq + 1):
                # seq + 1 has its link checked again: read it whole. Of seq − 1 only the hash counts,
                # known without reading at the stored tail when one rating holds it (it is no break).
                if near not in self.new and self.held(near) and (near == seq + 1 or near != tail):
                    wanted.add(near)
        top = max(self.new)
        if (self.before.last_seq is None or top >= self.before.last_seq) and len(self.new[top]) + self.held(top) > 1:
            wanted.add(top)      # two ratings at the new end: the one stored last gives last_hash
        return wanted

    def at(self, seq: int) -> list[Link]:
        if seq in self.read:
            return self.read[seq]
        new = self.new.get(seq, [])
        if not self.held(seq):
            return new
        if new:
            return [*new, _SECOND]
        return [Link(seq, self.before.last_hash or "", None, True)]   # the stored tail (`_unknown` read any other)


def _extended(conn: Connection, before: Chain, links: list[Link]) -> Chain:
    around = _Around(conn, before, links)
    breaks = set(before.chain_breaks)
    for seq in sorted(set(around.new) | {seq + 1 for seq in around.new}):
        breaks.discard(seq)
        if is_break(seq, around.at(seq), around.at(seq - 1)):
            breaks.add(seq)
    last_seq, last_hash, top = before.last_seq, before.last_hash, max(around.new)
    if last_seq is None or top >= last_seq:
        last_seq, last_hash = top, around.at(top)[-1].hash
    return replace(before, last_seq=last_seq, last_hash=last_hash, gaps=_gaps_after(before, sorted(around.new)),
                   chain_breaks=sorted(breaks))


def _gaps_after(before: Chain, seqs: list[int]) -> list[Gap]:
    """The gaps once `seqs` (ascending, each once) are held: a seq past the end may open one, a seq in a
    gap shrinks or splits it."""
    gaps, last = list(before.gaps), max(before.last_seq or 0, 0)
    for seq in seqs:
        if seq > last:
            if seq > last + 1:
                gaps.append((last + 1, seq - 1))
            last = seq
            continue
        index = _gap_at(gaps, seq)
        if index is not None:
            first, end = gaps[index]
            gaps[index:index + 1] = [gap for gap in ((first, seq - 1), (seq + 1, end)) if gap[0] <= gap[1]]
    return gaps


def _read(conn: Connection, device_id: str, seqs: set[int]) -> dict[int, list[Link]]:
    """The device's ratings at `seqs`, in the order they were stored (by pk), seq by seq."""
    found: dict[int, list[Link]] = {seq: [] for seq in seqs}
    values = sorted(seqs)
    for start in range(0, len(values), LOOKUP_CHUNK):
        query = select(*_RATING_COLUMNS).where(
            ratings.c.delivered_by == device_id, ratings.c.seq.in_(values[start:start + LOOKUP_CHUNK]),
        ).order_by(ratings.c.seq, ratings.c.pk)
        for row in conn.execute(query).mappings():
            found[row["seq"]].append(link(row))
    return found


def _chain(row: Sequence[Any]) -> Chain:
    """A Chain from a row of `_STORED` (by position: the report reads thousands)."""
    device_id, held, last_seq, last_hash, gaps, breaks, conflicts, before, elsewhere = row
    return Chain(device_id, held, last_seq, last_hash, [(first, last) for first, last in gaps], list(breaks),
                 conflicts, before, elsewhere)


def _write(conn: Connection, chain: Chain, *, exists: bool) -> None:
    values = {name: getattr(chain, name) for name in RESULTS}
    values.update(gaps=[list(gap) for gap in chain.gaps], updated_at=now_text())
    if exists:
        conn.execute(update(device_chains).where(device_chains.c.device_id == chain.device_id).values(values))
    else:
        conn.execute(device_chains.insert().values(device_id=chain.device_id, **values))


def stored(conn: Connection) -> dict[str, Chain]:
    """Every stored chain, by device id: what the integrity report reads."""
    return {row[0]: _chain(row) for row in conn.execute(_STORED)}


# A stored chain's columns for a reader of thousands of devices at once (the console's fleet and integrity
# pages, outer-joined to the devices): the two JSON lists as their text, read by `chain_of`, which parses
# only the few that are not empty (a driver's JSON parse of every row was most of such a page's time).
READ_COLUMNS = (device_chains.c.device_id.label("chain_device_id"),
                *(device_chains.c[name] if name not in ("gaps", "chain_breaks")
                  else cast(device_chains.c[name], Text).label(name) for name in RESULTS))
_EMPTY = (None, "", "[]")


def chain_of(device_id: str, row: Any) -> Chain:
    """The Chain a row holding READ_COLUMNS holds; `Chain(device_id)` where the device has none stored (NULLs)."""
    return chain_from(device_id, (row.chain_device_id, *(getattr(row, name) for name in RESULTS)))


def chain_from(device_id: str, values: Sequence[Any]) -> Chain:
    """`chain_of` from READ_COLUMNS' values in their order (a reader of thousands unpacks rows by position)."""
    stored_id, held, last_seq, last_hash, gaps, breaks, conflicts, before, elsewhere = values
    if stored_id is None:
        return Chain(device_id)
    return Chain(device_id, held, last_seq, last_hash,
                 [] if gaps in _EMPTY else [(first, last) for first, last in json.loads(gaps)],
                 [] if breaks in _EMPTY else list(json.loads(breaks)), conflicts, before, elsewhere)


# -- the truth: a recount from the raw rows -------------------------------------------


_RECOUNT = select(*_RATING_COLUMNS, ratings.c.conflict, ratings.c.before_enrollment, ratings.c.placement_differs)
# The same for a database that migration 0006 rebuilds: the columns later revisions added (OPTIONAL_HASHED)
# are not there yet, and stand as None, which is what the hash of a rating without them leaves out.
_RECOUNT_BEFORE_OPTIONAL = select(
    *(null().label(name) if name in OPTIONAL_HASHED else ratings.c[name] for name in RATING_FIELDS),
    ratings.c.conflict, ratings.c.before_enrollment, ratings.c.placement_differs)


class _Walk:
    """A device's chain checked rating by rating in (seq, pk) order, holding only two seqs' ratings."""

    def __init__(self, device_id: str) -> None:
        self.chain = Chain(device_id)
        self.expected = 1            # the lowest seq not yet seen, from 1
        self.here: list[Link] = []   # the ratings at the current seq
        self.before: list[Link] = []  # those at the seq before it

    def add(self, row: Mapping[Any, Any]) -> None:
        item, chain = link(row), self.chain
        chain.ratings_held += 1
        chain.conflicts += bool(row["conflict"])
        chain.before_enrollment += bool(row["before_enrollment"])
        chain.placement_mismatches += bool(row["placement_differs"])
        if item.seq > self.expected:
            chain.gaps.append((self.expected, item.seq - 1))
        self.expected = max(self.expected, item.seq + 1)
        if self.here and self.here[0].seq != item.seq:
            self._close()
        self.here.append(item)
        chain.last_seq, chain.last_hash = item.seq, item.hash

    def _close(self) -> None:
        seq = self.here[0].seq
        before = self.before if self.before and self.before[0].seq == seq - 1 else []
        if is_break(seq, self.here, before):
            self.chain.chain_breaks.append(seq)
        self.before, self.here = self.here, []

    def done(self) -> Chain | None:
        if self.here:
            self._close()
        return self.chain if self.chain.ratings_held else None


_HELD_COUNT = select(func.count()).select_from(ratings).where(ratings.c.delivered_by == bindparam("device"))


def _walked(device_id: str, rows: Sequence[Mapping[Any, Any]]) -> Chain:
    """The chain of a device whose only ratings are `rows` (in insertion order, as their pks run)."""
    walk = _Walk(device_id)
    for row in sorted(rows, key=itemgetter("seq")):    # stable: one seq's rows stay in pk order
        walk.add(row)
    return walk.done() or Chain(device_id)


def recount(conn: Connection, device_id: str, rows: Select[Any] = _RECOUNT) -> Chain | None:
    """The device's chain from its raw ratings alone (None: it delivered none), streamed, not held whole."""
    walk = _Walk(device_id)
    query = rows.where(ratings.c.delivered_by == device_id).order_by(ratings.c.seq, ratings.c.pk)
    for row in conn.execute(query.execution_options(yield_per=STREAM_ROWS)).mappings():
        walk.add(row)
    return walk.done()


@dataclass(frozen=True)
class Differed:
    """A device whose stored chain was not what its raw rows say (it now is)."""

    device_id: str
    stored: Chain
    raw: Chain

    def describe(self) -> str:
        names = self.stored.differences(self.raw)

        def shown(chain: Chain) -> str:
            if chain == Chain(self.device_id):
                return "nothing"     # no row: no rating delivered, or the row was lost
            return ", ".join(f"{name} {getattr(chain, name)}" for name in names)

        held, truth = shown(self.stored), shown(self.raw)
        return f"{self.device_id}: stored {held}; the raw rows say {truth} (corrected)"


def replace_chain(conn: Connection, device_id: str, found: Sequence[Any] | None,
             rows: Select[Any] = _RECOUNT) -> tuple[Chain, Differed | None]:
    """Store the recount of the device's chain in place of what `found` held (its locked row, if any); the
    recount, and how it differed from what was stored."""
    before = _chain(found) if found else Chain(device_id)
    truth = recount(conn, device_id, rows)
    if truth is None and found is not None:
        conn.execute(device_chains.delete().where(device_chains.c.device_id == device_id))
    elif truth is not None and truth != before:
        _write(conn, truth, exists=found is not None)
    after = truth or Chain(device_id)
    return after, (Differed(device_id, before, after) if after != before else None)


def chain_ids(conn: Connection) -> list[str]:
    """Every device with ratings delivered or a stored chain."""
    held = select(ratings.c.delivered_by).distinct().union(select(device_chains.c.device_id))
    return sorted(conn.execute(held).scalars())


def rebuild_in(conn: Connection) -> list[Differed]:
    """Replace every stored chain with its recount, in the caller's transaction (migration 0006)."""
    present = {column["name"] for column in inspect(conn).get_columns(ratings.name)}
    rows = _RECOUNT if present >= OPTIONAL_HASHED else _RECOUNT_BEFORE_OPTIONAL
    differed = []
    for device_id in chain_ids(conn):
        found = conn.execute(LOCKED, {"device": device_id}).first()
        if (done := replace_chain(conn, device_id, found, rows)[1]) is not None:
            differed.append(done)
    return differed
