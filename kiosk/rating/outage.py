"""What a storage outage owes the record once storage works again.

While the store fails nothing can be written, so the outage itself — when it
began, why, and which solicited services it closed unanswered — is kept here
and written by the first probe that succeeds: every request still ends in a
rating or an unrated, only later.
"""
from __future__ import annotations

import time
from dataclasses import replace

from kiosk.rating.session import Request, State, View
from kiosk.store import RatingStore
from kiosk.store.tables import EventKind


class Outage:
    def __init__(self, store: RatingStore) -> None:
        self._store = store
        self._since: str | None = None
        self._interrupted: list[Request] = []   # requests the outage closed, recorded as unrated on recovery

    def fail(self, view: View) -> None:
        """Storage just failed while the session showed `view` (perhaps out of service already)."""
        if view.state is not State.OUT_OF_SERVICE:
            self._since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        request = view.request
        if request is not None:
            # Credited like the rating would have been, even if someone else signs in meanwhile.
            self._interrupted.append(replace(request, staff_id=request.credited(view.staff_id)))

    def recover(self, error: str | None) -> None:
        """Retry storage with a real write, the record of the outage itself; StorageError while it still fails.

        A request is dropped from the list only once its unrated is on disk, so a failure
        half-way through leaves the rest for the next probe.
        """
        self._store.probe_writable()
        self._store.record_event(EventKind.STORAGE_FAILED, since=self._since, error=error)
        self._store.record_event(EventKind.STORAGE_RECOVERED, since=self._since)
        while self._interrupted:
            request = self._interrupted[0]
            self._store.record_event(EventKind.UNRATED, case_no=request.case_no, item_code=request.item_code,
                                     staff_id=request.staff_id, source=request.source, closed_by="storage_failure")
            self._interrupted.pop(0)
        self._since = None
