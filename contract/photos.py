"""Staff photos.

A roster entry may carry the portrait its staff card shows, as base64 of a JPEG or PNG file. Small
on purpose: the whole roster travels in every changed config, and the card draws the photo a few
centimetres high (a 300×400 JPEG is some 30 KB).
"""
from __future__ import annotations

import base64
import binascii

MAX_PHOTO_BYTES = 64 * 1024
MAX_PHOTO_BASE64 = 4 * -(-MAX_PHOTO_BYTES // 3)
_PHOTO_SIGNATURES = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}


def photo_type(head: bytes) -> str | None:
    """'jpg' or 'png' by the file's first bytes; None for anything else."""
    return next((kind for signature, kind in _PHOTO_SIGNATURES.items() if head.startswith(signature)), None)


def photo_size_problem(size: int) -> str | None:
    if size > MAX_PHOTO_BYTES:
        return f"is {size:,} bytes, at most {MAX_PHOTO_BYTES:,} (a 300×400 JPEG is plenty)"
    return None if size else "is empty"


def check_photo(data: bytes) -> str:
    """The photo's type ('jpg' or 'png'); ValueError saying why it cannot be a staff photo."""
    problem = photo_size_problem(len(data))
    kind = photo_type(data)
    if problem is None and kind is None:
        problem = "is not a JPEG or PNG image"
    if problem is not None or kind is None:
        raise ValueError(problem)
    return kind


def encode_photo(data: bytes) -> str:
    check_photo(data)
    return base64.b64encode(data).decode("ascii")


def decode_photo(text: str) -> tuple[bytes, str]:
    """(image bytes, 'jpg' or 'png') of a roster entry's photo; ValueError saying what is wrong."""
    if len(text) > MAX_PHOTO_BASE64:
        raise ValueError(f"is {len(text):,} base64 characters, at most {MAX_PHOTO_BASE64:,}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64") from None
    return data, check_photo(data)
