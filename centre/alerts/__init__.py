"""Alerts of the bad-review loop: the outbox ingest fills, its delivery by e-mail and webhook, the daily digest."""
