"""Who hears of the session: screens of each new view, panel lights of each stored rating."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Listeners(Generic[T]):
    """Listeners of one kind of news, called in the order they were added."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[T], None]] = []

    def add(self, listener: Callable[[T], None]) -> None:
        self._listeners.append(listener)

    def tell(self, value: T) -> None:
        # A copy: a listener may add another while being told.
        for listener in list(self._listeners):
            try:
                listener(value)
            except Exception:  # a broken screen or panel must not undo or block a stored rating
                log.exception("listener %r failed", listener)
