"""Evidence of a rectification or an appeal: files judged by their content, capped in size, kept with a hash.

The type is what the file's first bytes say it is, never what the upload claimed (its name or its
Content-Type): a script named photo.jpg is refused. Plain text is UTF-8 without control characters other
than tab and line breaks. Every file is checked before any is kept, so a step with one bad file keeps none
and leaves the case unchanged.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from centre.cases.settings import CaseSettings
from centre.db.loop_tables import case_files
from centre.errors import BadInput, NotFound

MAX_FILES = 10          # per step
NAME_LIMIT = 200        # characters, as case_files.name
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
_TEXT_CONTROLS = set(range(32)) - {9, 10, 13}


@dataclass(frozen=True)
class Evidence:
    """A file as uploaded: its name and its bytes (any type the upload claimed is not trusted)."""

    name: str
    content: bytes


@dataclass(frozen=True)
class CheckedFile:
    name: str
    media_type: str
    size: int
    sha256: str
    content: bytes


@dataclass(frozen=True)
class FileInfo:
    """A kept file as a view lists it (without its bytes)."""

    id: int
    event_id: int
    name: str
    media_type: str
    size: int
    sha256: str


def media_type(content: bytes) -> str | None:
    """The type the content shows, or None when it is none of the known ones."""
    for signature, kind in _SIGNATURES:
        if content.startswith(signature):
            return kind
    try:
        decoded = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not decoded.strip() or any(ord(char) in _TEXT_CONTROLS for char in decoded):
        return None
    return "text/plain"


def check(files: Sequence[Evidence], settings: CaseSettings) -> list[CheckedFile]:
    """Every file's type, size and hash; BadInput naming the first file refused and why."""
    if len(files) > MAX_FILES:
        raise BadInput(f"evidence: at most {MAX_FILES} files per step, got {len(files)}")
    checked = []
    for item in files:
        name = _name(item.name)
        size = len(item.content)
        if size == 0:
            raise BadInput(f"evidence {name!r}: the file is empty")
        if size > settings.evidence_max_bytes:
            raise BadInput(f"evidence {name!r}: {size} bytes, more than the {settings.evidence_max_bytes} "
                           "bytes allowed")
        kind = media_type(item.content)
        if kind is None or kind not in settings.evidence_media_types:
            shown = kind or "of no known type"
            raise BadInput(f"evidence {name!r}: the content is {shown}; accepted: "
                           f"{', '.join(settings.evidence_media_types)} (judged from the content, not the name)")
        checked.append(CheckedFile(name, kind, size, hashlib.sha256(item.content).hexdigest(), item.content))
    return checked


def _name(raw: str) -> str:
    # Only the last part of a path: a name is shown, never used to build one.
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or "\x00" in name or any(ord(char) < 32 for char in name):
        raise BadInput(f"evidence: a file name must be printable text, got {raw!r}")
    return name[:NAME_LIMIT]


def keep(conn: Connection, case_id: int, event_id: int, files: Sequence[CheckedFile]) -> list[int]:
    """Store checked files tied to the step's event; their ids."""
    ids = []
    for item in files:
        result = conn.execute(case_files.insert().values(
            case_id=case_id, event_id=event_id, name=item.name, media_type=item.media_type, size=item.size,
            sha256=item.sha256, content=item.content))
        key = result.inserted_primary_key
        assert key is not None
        ids.append(int(key[0]))
    return ids


def listed(conn: Connection, case_id: int) -> list[FileInfo]:
    rows = conn.execute(select(case_files.c.id, case_files.c.event_id, case_files.c.name, case_files.c.media_type,
                               case_files.c.size, case_files.c.sha256)
                        .where(case_files.c.case_id == case_id).order_by(case_files.c.id))
    return [FileInfo(row.id, row.event_id, row.name, row.media_type, row.size, row.sha256) for row in rows]


def content(conn: Connection, case_id: int, file_id: int) -> tuple[FileInfo, bytes]:
    """A kept file and its bytes (the caller checks the reader may see the case first: views.read_file)."""
    row = conn.execute(select(case_files).where(case_files.c.id == file_id, case_files.c.case_id == case_id)).first()
    if row is None:
        raise NotFound(f"case {case_id} has no file {file_id}")
    return FileInfo(row.id, row.event_id, row.name, row.media_type, row.size, row.sha256), bytes(row.content)
