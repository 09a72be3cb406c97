"""The satisfaction evaluator terminal: everything a rating touches before it leaves the device."""
import importlib
from datetime import UTC, datetime

__version__ = "0.1.0"

# A wall clock earlier than this build cannot be right (devices without an RTC
# boot in 1970 or at the image date): ratings stamped before it are flagged.
# A built release knows its day (setup.py writes kiosk/_build.py); a source
# checkout falls back to a day set by hand, no later than its newest change.
# Imported by name: the module exists only in a built release, so a checkout's type check cannot see it.
try:
    BUILD_DAY: str = importlib.import_module("kiosk._build").BUILD_DAY
except ImportError:
    BUILD_DAY = "2026-11-01"
BUILD_DATE = datetime.fromisoformat(BUILD_DAY).replace(tzinfo=UTC)
