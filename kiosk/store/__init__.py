"""The only SQL on the terminal: the append-only, hash-chained ratings, their outbox, the call-back requests,
the read queries of the scores and summaries, export and status, and the migrations."""
from kiosk.store.errors import StorageError
from kiosk.store.queries import DayCounts
from kiosk.store.ratings import _INSERT_RATING as _INSERT_RATING  # the benches seed large stores with it
from kiosk.store.ratings import Identity, RatingStore, StoredRating
from kiosk.store.schema import SCHEMA_COMPATIBLE_FROM, SCHEMA_HEAD
from kiosk.store.verify import VerifyResult

__all__ = ["SCHEMA_COMPATIBLE_FROM", "SCHEMA_HEAD", "DayCounts", "Identity", "RatingStore", "StorageError",
           "StoredRating", "VerifyResult"]
