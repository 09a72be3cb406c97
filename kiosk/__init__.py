"""The satisfaction evaluator terminal: everything a rating touches before it leaves the device."""
from datetime import datetime, timezone

__version__ = "0.1.0"

# A wall clock earlier than this build cannot be right (devices without an RTC
# boot in 1970 or at the image date): ratings stamped before it are flagged.
BUILD_DATE = datetime(2026, 11, 1, tzinfo=timezone.utc)
