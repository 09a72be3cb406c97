"""The office's roster file (STAFF.yaml): a YAML or JSON list of {id, name, post, name_en, post_en, pin, photo}.

Every entry is checked before anything is stored, and every bad one is named: a PIN (4–16 digits, the
terminal has a digit keypad) is kept apart to be stored only as a salted hash; `photo` names a JPEG or PNG
file beside the roster file, carried as base64 (contract.StaffRecord checks its size and kind).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from centre.db.rows import nul_field
from centre.errors import BadInput
from centre.registry.staff import Entry
from contract import MAX_PHOTO_BYTES, StaffRecord, encode_photo

HELP = ("a YAML or JSON list of {id, name, post, name_en, post_en, pin, photo}; a pin (4–16 digits) is stored and "
        "sent only as a salted hash; a photo is a JPEG or PNG file (relative to STAFF.yaml, at most "
        f"{MAX_PHOTO_BYTES // 1024} KiB) for the staff card")


class _TextLoader(yaml.SafeLoader):
    """YAML without numbers or dates: every field of a roster is text, and YAML 1.1 would read an unquoted
    PIN or 工号 like 0123 as the octal number 83, storing a PIN nobody knows."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class RosterRefused(BadInput):
    """Bad entries: the message names each; nothing was stored."""

    def __init__(self, path: Path, problems: list[str]):
        super().__init__(f"{path}: {len(problems)} problem(s), the roster is unchanged:\n  " + "\n  ".join(problems))
        self.problems = problems


def read(path: Path) -> list[Entry]:
    """The file's members, in its order; RosterRefused listing every bad entry (and a member given twice)."""
    try:
        given = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextLoader)   # a SafeLoader (_TextLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None
    if not isinstance(given, list):
        raise BadInput(f"{path}: must be a list of staff members (an empty list: nobody works there any more)")
    entries: list[Entry] = []
    problems: list[str] = []
    first: dict[str, int] = {}
    for number, item in enumerate(given, start=1):
        try:
            entry = _entry(item, path.parent)
        except BadInput as exc:
            problems.append(f"entry {number}: {exc.message}")
            continue
        member_id = entry.record.id
        if member_id in first:
            problems.append(f"entry {number}: staff {member_id!r} again (also entry {first[member_id]}): "
                            "one entry per member")
        first.setdefault(member_id, number)
        entries.append(entry)
    if problems:
        raise RosterRefused(path, problems)
    return entries


def _entry(item: Any, folder: Path) -> Entry:
    if not isinstance(item, dict):
        raise BadInput(f"must be a mapping of id, name, post, …, not {type(item).__name__}")
    fields = dict(item)
    who = f"staff {fields.get('id')!r}"
    pin = _pin(who, fields.pop("pin")) if "pin" in fields else None
    if fields.get("photo") is not None:
        fields["photo"] = _photo(who, folder / str(fields["photo"]))
    try:
        record = StaffRecord.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise BadInput(f"{who}: {'.'.join(str(p) for p in error['loc']) or 'entry'}: {error['msg']}") from None
    unstorable = nul_field(record.model_dump())
    if unstorable:
        raise BadInput(f"{who}: {unstorable}: contains a NUL character")
    return Entry(record, pin)


def _pin(who: str, value: Any) -> str:
    """The PIN itself is never stored or sent."""
    pin = str(value)
    if not (pin.isdigit() and 4 <= len(pin) <= 16):
        raise BadInput(f"{who}: pin must be 4–16 digits (the terminal has a digit keypad)")
    return pin


def _photo(who: str, path: Path) -> str:
    """A roster entry's `photo` names an image file; the roster carries the image itself (base64), checked here."""
    where = f"{who}: photo {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{where}: file not found") from None
    except OSError as exc:
        raise BadInput(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        return encode_photo(data)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None
