"""The store's one failure, in a module of its own: the schema check and every transaction raise it."""
from __future__ import annotations


class StorageError(Exception):
    """The database refused a read or write; nothing was acknowledged."""
