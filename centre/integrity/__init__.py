"""Integrity analytics: signals of dishonest behaviour around a device, each with its evidence, and the
city office's review of them (issue #19; docs/integrity.md)."""
