"""The one check of every read route: an API token (centre/tokens.py) in `Authorization: Bearer <token>`.

Device routes are signed with device keys (centre/api/auth.py) and take no token. What a token may
read is its scope's (centre/scopes.py), checked by each route (reads.py). The console's sessions, when
it exists, are a second way through this dependency.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from centre import tokens
from centre.errors import NotAuthenticated

# auto_error=False: a missing or malformed header is refused below, as 401 with the challenge and the
# centre's error body, like every other refusal. The scheme is what puts the bearer scheme into
# /openapi.json (components.securitySchemes, and `security` on each read route).
SCHEME = HTTPBearer(scheme_name="ApiToken", auto_error=False,
                    description="A per-client API token from `evaluator centre token add`, scoped to the city, "
                                "districts, sectors or units (docs/centre-api.md).")


async def api_client(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                              Depends(SCHEME)]) -> tokens.TokenInfo:
    """The live token of the request, or 401 with `WWW-Authenticate: Bearer` (RFC 6750)."""
    presented = credentials.credentials if credentials else None
    try:
        return await run_in_threadpool(tokens.authenticate, request.app.state.engine, presented)
    except NotAuthenticated as exc:
        challenge = "Bearer" if presented is None else 'Bearer error="invalid_token"'
        raise HTTPException(401, exc.message, headers={"WWW-Authenticate": challenge}) from None


Client = Annotated[tokens.TokenInfo, Depends(api_client)]

