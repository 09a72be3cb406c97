"""The only SQL on the terminal: the append-only, hash-chained ratings, their outbox, the call-back requests,
the read queries of the scores and summaries, export and status, and the migrations."""
from kiosk.store.ratings import (
                                 SCHEMA_COMPATIBLE_FROM,
                                 SCHEMA_HEAD,
                                 DayCounts,
                                 Identity,
                                 RatingStore,
                                 StorageError,
                                 StoredRating,
                                 VerifyResult,
)

__all__ = ["SCHEMA_COMPATIBLE_FROM", "SCHEMA_HEAD", "DayCounts", "Identity", "RatingStore", "StorageError",
           "StoredRating", "VerifyResult"]
