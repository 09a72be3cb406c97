"""A unit's codes for the province's records: its 统一社会信用代码 (credit code) and its 行政区划 code (region).

Checked when the office writes them (`unit import`, `unit add`), so a record never leaves with a code that
cannot be one; the province's own register decides whether it is the unit's.

- credit code, GB 32100-2015: 18 characters from 0–9 and the capitals without I, O, S, V, Z; the 1st is the
  registering authority, the 2nd the kind of body, the 3rd–8th the authority's region code (digits), the
  9th–17th the organisation code, and the 18th a check character: 31 − (Σ value(cᵢ)·3ⁱ mod 31) over the
  first 17 (i from 0), mod 31, as a character of the same alphabet. A mistyped character always fails it.
- region code, GB/T 2260 (and its 12-digit extension to townships, the statistics office's 统计用区划代码):
  6 or 12 digits, the first two a province's (11 北京 … 82 澳门).
"""
from __future__ import annotations

import re

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
REGION_PATTERN = re.compile(r"^(?:[0-9]{6}|[0-9]{12})$")
PROVINCES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                       "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
                       "65", "71", "81", "82"})


def credit_check_char(first17: str) -> str:
    """The 18th character of a credit code whose first 17 are `first17` (GB 32100-2015, 4.3)."""
    total = sum(CREDIT_ALPHABET.index(char) * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """What is wrong with a credit code (None: nothing)."""
    if len(code) != 18:
        return f"credit code {code!r} has {len(code)} characters, not 18 (统一社会信用代码)"
    if not CREDIT_PATTERN.match(code):
        return (f"credit code {code!r} is not a 统一社会信用代码: capitals and digits without I, O, S, V, Z, "
                "its 3rd–8th characters digits")
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return f"credit code {code!r} fails its check character: the 18th should be {expected!r} (a typo?)"
    return None


def region_code_problem(code: str) -> str | None:
    """What is wrong with a 行政区划 code (None: nothing)."""
    if not REGION_PATTERN.match(code):
        return f"region code {code!r} must be 6 or 12 digits (行政区划代码)"
    if code[:2] not in PROVINCES:
        return f"region code {code!r} does not start with a province's code (11 北京 … 82 澳门)"
    return None


def normalised(code: str | None) -> str | None:
    """A code as the office typed it, without spaces and in capitals; None for a blank one."""
    if code is None:
        return None
    code = "".join(code.split()).upper()
    return code or None
