"""Reference central collection endpoint: enrollment, signed ingest, reports.

It knows `sync.protocol` and its own database only (docs/sync-protocol.md).
"""
