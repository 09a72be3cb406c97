"""The receiver's own SQLite file: the records it holds, once each, and the nonces it has seen.

A record id is the key: a record received again is not stored again and is answered as accepted again
(UploadSpec.duplicate_code), which is what makes a sender's resend after a lost answer harmless. A case's
records are looked up by case (the department's credit code and the case number) for the per-case rule. One
lock serialises the server's threads: the per-case check and the insert that follows must see each other's
records.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from centre.province.mapping import Mapping, PerCase
from centre.province.receiver.checks import Checked, check_record
from centre.province.upload import UploadSpec
from contract import iso_utc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    record_id   TEXT PRIMARY KEY,
    batch_id    TEXT NOT NULL,
    case_no     TEXT,
    case_key    TEXT,
    number      INTEGER,
    fields      TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_received_case ON received (case_key);
CREATE TABLE IF NOT EXISTS nonces (
    nonce   TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Answer:
    record_id: str
    code: str
    message: str


class ReceiverStore:
    """The receiver's database at `path` (created with its tables if new)."""

    def __init__(self, path: Path, mapping: Mapping):
        self.mapping = mapping
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ValueError(f"{path}: cannot use it as the receiver's database: {exc}") from None
        self._db.execute("PRAGMA journal_mode = WAL")

    def close(self) -> None:
        self._db.close()

    def nonce_seen(self, nonce: str, timestamp: int, max_skew_s: int) -> bool:
        """Whether `nonce` came before (a replay); remembers it, and forgets those past the clock window."""
        with self._lock:
            self._db.execute("DELETE FROM nonces WHERE seen_at < ?", (timestamp - 2 * max_skew_s,))
            try:
                self._db.execute("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?)", (nonce, timestamp))
            except sqlite3.IntegrityError:
                return True
        return False

    def receive(self, batch_id: str, records: list[dict[str, Any]], now: datetime) -> list[Answer]:
        """Check and store a batch's records in one transaction; the answer for each, in order."""
        spec = self.mapping.upload
        answers = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    answers.append(self._receive_one(spec, batch_id, record, now))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return answers

    def _receive_one(self, spec: UploadSpec, batch_id: str, record: dict[str, Any], now: datetime) -> Answer:
        checked = check_record(self.mapping, record)
        if checked.record_id and self._held(checked.record_id):
            return Answer(checked.record_id, spec.duplicate_code, "already received")
        problem = checked.problem or self._case_problem(checked)
        if problem is not None:
            return Answer(checked.record_id, spec.refused_code, problem)
        self._db.execute("INSERT INTO received (record_id, batch_id, case_no, case_key, number, fields, "
                         "received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (checked.record_id, batch_id, checked.case_no, checked.case_key, checked.number,
                          json.dumps(record, ensure_ascii=False, sort_keys=True), iso_utc(now)))
        return Answer(checked.record_id, spec.accepted_code, "accepted")

    def _held(self, record_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM received WHERE record_id = ?", (record_id,)).fetchone() is not None

    def _case_problem(self, checked: Checked) -> str | None:
        if checked.case_key is None:
            return None
        if self.mapping.per_case is PerCase.FIRST_ONLY:
            held = self._db.execute("SELECT record_id FROM received WHERE case_key = ? LIMIT 1",
                                    (checked.case_key,)).fetchone()
            if held is not None:
                return (f"case_rated: case {checked.case_no} already has a record ({held[0]}): one service, "
                        "one rating")
            return None
        held = self._db.execute("SELECT record_id FROM received WHERE case_key = ? AND number IS ? LIMIT 1",
                                (checked.case_key, checked.number)).fetchone()
        if held is not None:
            return (f"case_rated: case {checked.case_no} already has evaluation number {checked.number} "
                    f"({held[0]})")
        return None

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM received").fetchone()[0])
