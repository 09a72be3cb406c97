"""How much of a request the centre holds in memory: the body as sent, and a gzipped body once inflated.

Figures (docs/sync-protocol.md, "Body limits"): a batch of 500 ratings with every field at its largest and
as many reasons and events (200 characters of detail each) is about 0.7 MB of JSON and 0.22 MB gzipped; at
`sync.batch_size`'s maximum, 5000, about 6.9 MB and 2.2 MB. The defaults hold that largest batch even sent
plain, with headroom.
"""
from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024
DEFAULT_MAX_BODY_MIB = 8       # a body as sent, plain or gzipped
DEFAULT_MAX_INFLATED_MIB = 16  # a gzipped body's JSON once inflated


@dataclass(frozen=True)
class BodyLimits:
    """The two limits in bytes; `evaluator centre serve --max-body-mib/--max-inflated-mib` sets them."""

    body: int = DEFAULT_MAX_BODY_MIB * MIB
    inflated: int = DEFAULT_MAX_INFLATED_MIB * MIB


DEFAULT_LIMITS = BodyLimits()


def _size(limit: int) -> str:
    return f"{limit:,} bytes ({limit / MIB:g} MiB)"


class BodyTooLarge(HTTPException):
    """413. An HTTPException, so FastAPI's own body reading (of /v1/enroll) lets it through unchanged."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(status_code=413, detail=f"{what} is over the limit of {_size(limit)}")


def body_too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge("request body", limit)


def inflated_too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge("gzip body inflated", limit)


class BodyLimitMiddleware:
    """Refuse a body over `limit` bytes before holding it: at once when Content-Length says so, else as soon
    as the bytes received pass the limit. What the client still sends after the answer is discarded by the
    server as it arrives, never buffered."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            refusal = body_too_large(self.limit)
            await JSONResponse({"detail": refusal.detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the app: its exception handler answers the 413 as JSON.
                    raise body_too_large(self.limit)
            return message

        await self.app(scope, receive_within_limit, send)
