"""The city's centre, a reference implementation: enrollment, signed ingest, reports.

It knows `contract` and its own database only (docs/sync-protocol.md).
"""
