"""The console's settings, with their units in their names; `evaluator centre serve` takes the defaults."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsoleSettings:
    session_hours: float = 12.0          # a session ends this long after login, whatever it does
    lock_after_failures: int = 5         # wrong passwords in a row that lock an account …
    lock_minutes: float = 15.0           # … for this long
    min_ratings: int = 100               # a round's fewest ratings to be ranked (below: "too few ratings")
    min_password_chars: int = 10
    export_max_rows: int = 200_000      # an xlsx export larger than this is refused with the reason


DEFAULT_SETTINGS = ConsoleSettings()
