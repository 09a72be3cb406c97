"""The chain check: walks the ratings in seq order and finds the first gap, broken link or altered row."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from contract import GENESIS_HASH, rating_hash
from kiosk.store.database import Database
from kiosk.store.tables import WIRE_COLUMNS, ratings


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


class ChainVerifier(Database):
    """The chain check, mixed into RatingStore."""

    def verify(self, batch: int = 5000) -> VerifyResult:
        """Walk the chain in seq order: continuity, links and each row's own hash."""
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        columns = [ratings.c[name] for name in WIRE_COLUMNS]
        while True:
            # A batch per transaction: a long check never holds the lock every press takes.
            with self.transaction(write=False) as conn:
                rows = conn.execute(select(*columns).where(ratings.c.seq >= expected_seq)
                                    .order_by(ratings.c.seq).limit(batch)).all()
            if not rows:
                return VerifyResult(checked=checked)
            for row in rows:
                fields = dict(row._mapping)
                fields["clock_suspect"] = bool(fields["clock_suspect"])
                problem = _chain_problem(fields, expected_seq, prev_hash)
                if problem:
                    return VerifyResult(checked=checked, first_broken_seq=expected_seq, problem=problem)
                expected_seq, prev_hash, checked = expected_seq + 1, fields["hash"], checked + 1


def _chain_problem(fields: dict[str, Any], expected_seq: int, prev_hash: str) -> str | None:
    if fields["seq"] != expected_seq:
        return f"seq {expected_seq} is missing (next stored is {fields['seq']})"
    if fields["prev_hash"] != prev_hash:
        return f"seq {expected_seq} does not link to seq {expected_seq - 1} (a row was removed or replaced)"
    if rating_hash(fields) != fields["hash"]:
        return f"seq {expected_seq} was altered after it was stored (hash mismatch)"
    return None
