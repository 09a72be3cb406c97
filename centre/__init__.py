"""Reference central collection endpoint: enrollment, signed ingest, reports.

It knows `contract` and its own database only (docs/sync-protocol.md).
"""
