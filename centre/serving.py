"""`evaluator centre serve`: the app in this process, or in N worker processes on one PostgreSQL database.

One worker (the default) serves the app built here, in this process. Several are uvicorn's multiprocess
mode: uvicorn starts each worker as a fresh interpreter (spawn) that builds the app from an import string,
`centre.serving:app_from_env`, so the options travel in environment variables (`ServeOptions.to_env`).
Before any worker starts, this process creates or checks the schema once (a worker then finds it current,
so no two migrate at once and a problem is told once, as a command-line error) and prepares the metrics'
multiprocess folder. The workers share nothing but the database: exactly-once ingest and the refusal of a
replayed nonce rest on its unique constraints (centre/ingest.py, centre/api/auth.py), not on a process.
"""
from __future__ import annotations

import atexit
import gc
import logging.config
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from centre import cityconfig
from centre.api.admission_limits import DEFAULT_ADMISSION, AdmissionLimits
from centre.api.limits import DEFAULT_LIMITS, BodyLimits
from centre.cityconfig import CityConfig
from centre.db.engine import open_engine
from centre.errors import BadInput
from centre.logs import uvicorn_log_config

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

APP_FACTORY = "centre.serving:app_from_env"
ENV_DB = "EVALUATOR_CENTRE_DB"
ENV_MAX_BODY = "EVALUATOR_CENTRE_MAX_BODY"           # bytes
ENV_MAX_INFLATED = "EVALUATOR_CENTRE_MAX_INFLATED"   # bytes
ENV_METRICS = "EVALUATOR_CENTRE_METRICS"             # "1" or "0"
ENV_CONFIG = "EVALUATOR_CENTRE_CONFIG"               # the city config file (centre/cityconfig.py), if any
# prometheus_client's own name (centre.observability.metrics): not imported from there, because importing
# prometheus_client in this process while the variable is set would write files into the folder it empties.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_HEADER = "X-Centre-Worker"   # the answering worker's pid, on every answer of a multi-worker centre


@dataclass(frozen=True)
class ServeOptions:
    """What every worker's app is built from."""

    db_url: str
    limits: BodyLimits = DEFAULT_LIMITS
    metrics: bool = True
    admission: AdmissionLimits = DEFAULT_ADMISSION   # per worker process
    config_path: str | None = None                   # `--config FILE`: the city config (centre/cityconfig.py)

    def to_env(self) -> dict[str, str]:
        return {ENV_DB: self.db_url, ENV_MAX_BODY: str(self.limits.body),
                ENV_MAX_INFLATED: str(self.limits.inflated), ENV_METRICS: "1" if self.metrics else "0",
                **self.admission.to_env(), **({ENV_CONFIG: self.config_path} if self.config_path else {})}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServeOptions:
        if not env.get(ENV_DB):
            raise RuntimeError(f"{APP_FACTORY} builds the app of `evaluator centre serve --workers N`, "
                               f"which sets {ENV_DB}; it is not set")
        limits = BodyLimits(body=int(env.get(ENV_MAX_BODY, DEFAULT_LIMITS.body)),
                            inflated=int(env.get(ENV_MAX_INFLATED, DEFAULT_LIMITS.inflated)))
        return cls(env[ENV_DB], limits, metrics=env.get(ENV_METRICS, "1") == "1",
                   admission=AdmissionLimits.from_env(env), config_path=env.get(ENV_CONFIG) or None)

    def city(self) -> CityConfig:
        """The city config file's settings (CityConfigError naming file and field), the defaults without one,
        with the evidence cap fitted to the request body limit (`fit_evidence`)."""
        return fit_evidence(cityconfig.load(self.config_path) if self.config_path else cityconfig.DEFAULT,
                            self.limits)


def serve(options: ServeOptions, *, host: str, port: int, workers: int = 1, log_level: str = "info",
          log_format: str = "text") -> None:
    """Run the centre until it is stopped (SIGINT, SIGTERM); BadInput for several workers on SQLite.

    The housekeeping (alerts, digest, the cases' sweeps: centre/housekeeping.py) runs in this process, once
    per centre: beside the app with one worker, in the parent that starts them with several."""
    import uvicorn

    from centre import housekeeping

    log_config = uvicorn_log_config(log_format, log_level)
    city = options.city()   # a bad file stops here, before anything starts
    cityconfig.install(city)
    logging.config.dictConfig(log_config)   # the housekeeping logs before uvicorn sets it up (again)
    if workers == 1:
        from centre.api.app import create_app

        app = create_app(options.db_url, options.limits, metrics=options.metrics, admission=options.admission)
        app.state.city = city
        freeze_start_up()
        with housekeeping.running(app.state.engine, city):
            uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=log_config)
        return
    refuse_sqlite(options.db_url, workers)
    open_engine(options.db_url).dispose()   # the schema, created or checked once, before any worker
    with metrics_folder(options.metrics):
        os.environ.update(options.to_env())   # spawned workers inherit this process's environment
        # Started once the metrics' folder is set: its counters then join the workers' (centre/alerts/delivery.py).
        with housekeeping.running(open_engine(options.db_url), city):
            uvicorn.run(APP_FACTORY, factory=True, workers=workers, host=host, port=port, log_level=log_level,
                        log_config=log_config)


# What a multipart form adds around an evidence file (its other fields, boundaries, headers): generous.
FORM_OVERHEAD_BYTES = 64 * 1024


def fit_evidence(city: CityConfig, limits: BodyLimits) -> CityConfig:
    """An evidence cap the request body limit cannot carry would answer a file under the cap with a bare 413
    instead of the case form's reason. The default cap is lowered to what fits (a centre served with a smaller
    --max-body-mib takes smaller files); a cap the city's file sets is its decision, refused with both figures."""
    room = limits.body - FORM_OVERHEAD_BYTES
    cap = city.cases.evidence_max_bytes
    if cap <= room:
        return city
    if "evidence_max_bytes" in city.cases.model_fields_set:
        raise BadInput(f"cases.evidence_max_bytes ({cap} bytes) does not fit in the request body limit "
                       f"({limits.body} bytes, less {FORM_OVERHEAD_BYTES} for the form): lower it in the city "
                       "config or raise --max-body-mib")
    return city.model_copy(update={"cases": city.cases.model_copy(update={"evidence_max_bytes": room})})


def refuse_sqlite(db_url: str, workers: int) -> None:
    if make_url(db_url).get_backend_name() == "sqlite":
        raise BadInput(f"--workers {workers} needs PostgreSQL: SQLite, the try-it-out engine, takes one writer "
                       "at a time; serve a SQLite database with one worker (leave --workers out)")


@contextmanager
def metrics_folder(enabled: bool) -> Iterator[Path | None]:
    """The workers' prometheus_client multiprocess folder: PROMETHEUS_MULTIPROC_DIR as set, emptied of the
    last run's files (their counts would add to this run's), or else a private one, removed at exit."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("*.db"):   # prometheus_client's files only: nothing else there is ours
                stale.unlink()
        except OSError as exc:
            raise BadInput(f"{MULTIPROC_ENV}={given}: cannot prepare it for the workers' metrics: "
                           f"{exc.strerror or exc}") from None
        yield folder
        return
    if not enabled:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="evaluator-centre-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def app_from_env() -> FastAPI:
    """The app of one worker of `serve --workers N` (uvicorn's factory), from the environment `serve` set."""
    from centre.api.app import create_app

    options = ServeOptions.from_env(os.environ)
    city = options.city()
    cityconfig.install(city)   # what ingest's case opening and the alerts' queue read (cityconfig.current())
    app = create_app(options.db_url, options.limits, metrics=options.metrics, admission=options.admission)
    app.state.city = city
    app.add_middleware(WorkerHeader)
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        from prometheus_client.multiprocess import mark_process_dead

        # A worker that ends (a restart) takes its live gauges (pool size, connections in use) with it.
        atexit.register(mark_process_dead, os.getpid(), folder)
    freeze_start_up()
    return app


def freeze_start_up() -> None:
    """Leave what a serving process holds once its app is built (modules, routes, models: some 100,000 objects)
    out of the garbage collector's full scans. A console page keeps a city's thousand units or five thousand
    devices through its request, and every few such requests the collector scanned the whole heap: some 60 ms
    at one request's expense (the console's p99 on a city year). What is frozen lives as long as the process
    anyway; garbage already there is collected first."""
    gc.collect()
    gc.freeze()


class WorkerHeader:
    """Say which worker answered (its pid): an operator tells the workers apart, a test sees them all serve."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_worker(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (WORKER_HEADER.lower().encode(), self.value)]}
            await send(message)

        await self.app(scope, receive, send_with_worker)
