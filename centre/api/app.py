"""The HTTP face of the centre (docs/sync-protocol.md); logic lives in ingest, enroll and reports; the read
routes of the city's systems are reads.py's."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from centre import callbacks as callbacks_mod
from centre import enroll as devices_mod
from centre import ingest as ingest_mod
from centre.api import operations, reads
from centre.api.admission import BUSY_RESPONSE, AdmissionMiddleware
from centre.api.admission_limits import DEFAULT_ADMISSION, AdmissionLimits
from centre.api.auth import Nonce, authenticate, check_signature, decode_body, remember_nonce
from centre.api.limits import DEFAULT_LIMITS, BodyLimitMiddleware, BodyLimits
from centre.api.refusals import error_responses as _errors
from centre.console import web as console
from centre.db.engine import open_engine
from centre.db.rows import now_text
from centre.errors import BadInput, CentreError, Forbidden
from centre.incoming import first_error
from centre.public import web as public
from contract import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    Ack,
    Batch,
    CallbackAck,
    CallbackBatch,
    DeviceConfig,
    EnrollRequest,
    EnrollResponse,
    Heartbeat,
    StaffRecord,
)

log = logging.getLogger("centre.api")


class ServerTime(BaseModel):
    server_time: str


@dataclass(frozen=True)
class Signed:
    """An authenticated request: the signing device's row and the body's JSON bytes."""

    device: dict[str, Any]
    data: bytes


SIGNED_ERRORS = _errors(400, 401, 403, 413, 415, 422)


async def signed_request(
    request: Request,
    device: Annotated[str | None, Header(alias=HEADER_DEVICE)] = None,
    timestamp: Annotated[str | None, Header(alias=HEADER_TIMESTAMP)] = None,
    nonce: Annotated[str | None, Header(alias=HEADER_NONCE)] = None,
    signature: Annotated[str | None, Header(alias=HEADER_SIGNATURE)] = None,
) -> Signed:
    """The one signature check of every signed endpoint; the header parameters document the contract."""
    body = await request.body()
    engine: Engine = request.app.state.engine
    row = await run_in_threadpool(authenticate, engine, request.method, request.url.path, request.headers, body)
    data = decode_body(body, request.headers.get("content-encoding"), request.app.state.limits.inflated)
    return Signed(device=row, data=data)


@dataclass(frozen=True)
class UncheckedRequest:
    """A signed request as received (a batch, a heartbeat), its signature not yet checked: the endpoint checks it
    on its own worker thread (one hand-off to the thread pool a request, not two) and records the nonce in the
    transaction that stores what the request brings (one commit, not two)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    max_inflated: int

    def check(self, engine: Engine) -> tuple[dict[str, Any], Nonce, bytes]:
        """`signed_request`'s check without recording the nonce: (device row, nonce, JSON bytes)."""
        device, nonce = check_signature(engine, self.method, self.path, self.headers, self.body)
        return device, nonce, decode_body(self.body, self.headers.get("content-encoding"), self.max_inflated)


async def unchecked_request(
    request: Request,
    device: Annotated[str | None, Header(alias=HEADER_DEVICE)] = None,
    timestamp: Annotated[str | None, Header(alias=HEADER_TIMESTAMP)] = None,
    nonce: Annotated[str | None, Header(alias=HEADER_NONCE)] = None,
    signature: Annotated[str | None, Header(alias=HEADER_SIGNATURE)] = None,
) -> UncheckedRequest:
    """The body and headers of an ingest or a heartbeat; the header parameters document the contract, as for
    `signed_request`."""
    return UncheckedRequest(request.method, request.url.path, request.headers, await request.body(),
                            request.app.state.limits.inflated)


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """Document a body the endpoint reads raw (it must see the signed bytes before parsing)."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def create_app(db_url: str, limits: BodyLimits = DEFAULT_LIMITS, *, metrics: bool = True,
               admission: AdmissionLimits = DEFAULT_ADMISSION) -> FastAPI:
    app = FastAPI(title="Satisfaction evaluator centre", version="1",
                  description="Reference central endpoint of docs/sync-protocol.md.")
    app.state.engine = open_engine(db_url)
    app.state.limits = limits
    # The terminals' routes first: a request's route is found by trying the routes in order, and a city's
    # terminals send nearly all of them (the console's and the citizen pages' sixty routes, tried first, cost
    # a batch about a fiftieth of the centre's CPU).
    _device_routes(app)
    operations.install(app, app.state.engine, with_metrics=metrics)   # /healthz, /metrics
    reads.install(app)     # the read routes behind API tokens
    console.install(app)   # /console: the office's and the units' pages; its headers' middleware innermost
    public.install(app)    # the citizen pages (/q, /c, /r, /results, …): no login, no script
    app.add_middleware(BodyLimitMiddleware, limit=limits.body)   # every body, before anything reads it
    app.add_middleware(AdmissionMiddleware, limits=admission)    # outermost: a busy worker refuses unread
    _install_error_handlers(app)
    _extend_openapi(app, (Batch, Heartbeat, CallbackBatch, StaffRecord))
    return app


def _device_routes(app: FastAPI) -> None:
    @app.post("/v1/enroll", response_model=EnrollResponse, responses=_errors(400, 404, 410, 422))
    def enroll(body: EnrollRequest, request: Request) -> EnrollResponse:
        enrolled = devices_mod.enroll(app.state.engine, body)
        return enrolled.model_copy(update={"config": public.device_config(request, enrolled.config)})

    @app.post("/v1/ingest", response_model=Ack, responses={**SIGNED_ERRORS, **BUSY_RESPONSE},
              openapi_extra=_json_body(Batch))
    def ingest(signed: Annotated[UncheckedRequest, Depends(unchecked_request)]) -> Ack:
        with operations.watched_batch(signed.headers.get(HEADER_DEVICE)) as watch:   # metrics and a log line
            device, nonce, data = signed.check(app.state.engine)
            watch.device_id = device["id"]
            # ingest() returns only after its transaction committed: the ack never promises more than is stored.
            return watch.answered(ingest_mod.ingest(app.state.engine, device["id"], data, nonce=nonce))

    @app.post("/v1/callbacks", response_model=CallbackAck, responses=SIGNED_ERRORS,
              openapi_extra=_json_body(CallbackBatch))
    def callbacks(signed: Annotated[Signed, Depends(signed_request)]) -> CallbackAck:
        # Personal data (a phone number given with consent), so its own endpoint and table, never the batch's.
        return callbacks_mod.store_callbacks(app.state.engine, signed.device["id"], signed.data)

    @app.post("/v1/heartbeat", response_model=ServerTime, responses=SIGNED_ERRORS,
              openapi_extra=_json_body(Heartbeat))
    def heartbeat(signed: Annotated[UncheckedRequest, Depends(unchecked_request)]) -> ServerTime:
        # As a batch is: every terminal sends one after each drain, half the requests a busy centre answers.
        device, nonce, data = signed.check(app.state.engine)
        try:
            beat = Heartbeat.model_validate_json(data)
        except ValidationError as exc:
            raise BadInput(first_error(exc)) from None
        if beat.device_id != device["id"]:
            raise Forbidden("heartbeat device_id is not the signing device")
        with app.state.engine.begin() as conn:
            remember_nonce(conn, nonce)     # a replay: 401, and nothing of it stored
            devices_mod.store_heartbeat(conn, beat.device_id, beat.model_dump(mode="json"))
        return ServerTime(server_time=now_text())

    @app.get("/v1/config", response_model=DeviceConfig, responses={304: {"description": "unchanged"},
                                                                   **SIGNED_ERRORS})
    def config(request: Request, signed: Annotated[Signed, Depends(signed_request)],
               if_none_match: Annotated[str | None, Header()] = None) -> Any:
        current = devices_mod.pulled_config(app.state.engine, signed.device)
        current = public.device_config(request, current)   # the counter's questionnaire URL, its token renewed
        etag = devices_mod.config_etag(current)
        if devices_mod.etag_matches(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(current.model_dump(mode="json"), headers={"ETag": etag})


def _install_error_handlers(app: FastAPI) -> None:
    # The console's pages answer with a page that gives the reason; everything else with JSON.
    def console_page(request: Request) -> bool:
        return request.url.path.startswith(console.PREFIX) and not request.url.path.startswith(
            f"{console.PREFIX}/static")

    @app.exception_handler(CentreError)
    async def centre_error(request: Request, exc: CentreError) -> Response:
        if public.is_public(request.url.path):
            return public.error_page(request, exc.status, exc.message)
        if console_page(request):
            return console.error_page(request, exc.status, exc.message)
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ())) or "request"
        if public.is_public(request.url.path):
            return public.error_page(request, 400, f"{where}: {first.get('msg', 'invalid')}")
        if console_page(request):
            return console.error_page(request, 400, f"{where}: {first.get('msg', 'invalid')}")
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if public.is_public(request.url.path):
            return public.error_page(request, exc.status_code, str(exc.detail))
        if console_page(request):
            return console.error_page(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged with its traceback for the operator; the browser gets the reason's kind, never the trace.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        if public.is_public(request.url.path):
            return public.error_page(request, 500, "")
        if console_page(request):
            return console.error_page(request, 500, "the centre failed on this page; the operator's log has why")
        return JSONResponse({"detail": "internal error"}, status_code=500)


def _extend_openapi(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Put the raw-read bodies' schemas (and the roster's) into components, where the bodies refer to them."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in body.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault(model.__name__, body)
        # DeviceConfig keeps its roster as plain objects (a terminal ignores keys it does not know): say what
        # the reference centre sends in them.
        components["DeviceConfig"]["properties"]["staff"]["items"] = {"$ref": "#/components/schemas/StaffRecord"}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
