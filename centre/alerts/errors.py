"""Why a delivery failed, as the outbox records it (alert_deliveries.last_error): words, never a secret."""
from __future__ import annotations

MAX_ERROR = 500   # characters kept of an error's text


class SendFailed(Exception):
    """An attempt failed. `whole_target`: the server itself failed (no connection, TLS, login, a 5xx), so every
    other row for the same server in this pass would fail alike and is not tried until its own next attempt;
    otherwise only this row failed (a refused recipient, a 4xx)."""

    def __init__(self, message: str, *, whole_target: bool):
        super().__init__(message[:MAX_ERROR])
        self.message = message[:MAX_ERROR]
        self.whole_target = whole_target
