"""The read routes of the city's own systems (docs/centre-api.md): an API token's, within its scope.

Each route checks the token (bearer.py), then what the request names against the token's scope
(centre/scopes.py: a 403 before anything is looked up), then answers JSON, or the same answer as CSV
or xlsx (downloads.py); a list comes in pages (pages.py). The figures themselves come from the functions
the CLI calls (reports, indicators, the registry), so both show the same numbers.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict

from centre import indicators, reports, scopes, tokens
from centre.api import downloads
from centre.api.bearer import Client
from centre.api.downloads import FormatQuery
from centre.api.pages import Page, Paging
from centre.api.refusals import error_responses
from centre.registry import queries
from contract import Summary

MAX_QUERY_ID = 200
Id = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_ID)]
READ_ERRORS = error_responses(401, 403, 404, 422)
Units = Annotated[list[str] | None, Query(description="a unit's id (repeat)")]
Districts = Annotated[list[str] | None, Query(description="a district's name or id (repeat)")]
Sectors = Annotated[list[str] | None, Query(description="a sector's code or name (repeat); with district: those "
                                                        "sectors within those districts")]


class IntegrityPage(reports.IntegrityReport, Paging):
    """A page of the devices of the token's scope; `ok` is over all of them, not this page only."""


class CounterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    name_en: str | None


class RegisteredUnit(BaseModel):
    """A unit as the registry holds it (docs/registry.md), with its place and counters."""

    id: str
    name: str
    name_en: str | None
    district_id: int | None          # null: carried over from before the registry, not yet placed
    district: str | None
    district_en: str | None
    sector_code: str | None
    sector: str | None
    sector_en: str | None
    timezone: str
    opening_hours: str
    address: str | None
    counters: list[CounterEntry]


class UnitPage(Paging):
    units: list[RegisteredUnit]


def install(app: FastAPI) -> None:
    _summary_route(app)
    _indicators_route(app)
    _integrity_route(app)
    _units_route(app)


def _summary_route(app: FastAPI) -> None:
    @app.get("/v1/reports/summary", response_model=Summary, responses={**downloads.RESPONSES, **READ_ERRORS})
    def summary(client: Client, unit: Id,
                date_: Annotated[date, Query(alias="date", description="YYYY-MM-DD, in the unit's time zone")],
                counter: Annotated[str | None, Query(max_length=MAX_QUERY_ID)] = None,
                staff: Annotated[str | None, Query(max_length=MAX_QUERY_ID)] = None,
                format_: FormatQuery = downloads.Format.JSON) -> Any:
        tokens.require_unit(app.state.engine, client, unit)
        result = reports.summary(app.state.engine, unit, date_, counter, staff)
        return downloads.answer(result, format_, f"summary-{unit}-{date_.isoformat()}", [result])


def _indicators_route(app: FastAPI) -> None:
    @app.get("/v1/indicators", response_model=indicators.Indicators, responses={**downloads.RESPONSES,
                                                                                 **READ_ERRORS})
    def indicator_set(client: Client,
                      unit: Units = None, district: Districts = None, sector: Sectors = None,
                      from_: Annotated[date | None, Query(alias="from")] = None,
                      to: Annotated[date | None, Query()] = None,
                      period: Annotated[str | None, Query(description="day, week, month, quarter, year")] = None,
                      date_: Annotated[date | None, Query(alias="date")] = None,
                      min_ratings: Annotated[int, Query(ge=0)] = indicators.MIN_RATINGS,
                      format_: FormatQuery = downloads.Format.JSON) -> Any:
        # Nothing named: everything the token may read (the city for a city token, a district's token
        # its district); the answer's `scope` and `unit_ids` say which.
        engine = app.state.engine
        with engine.connect() as conn:
            chosen = scopes.within(conn, client.scope, unit or [], district or [], sector or [])
        result = indicators.answer_scope(engine, chosen, period, date_, from_, to, min_ratings)
        return downloads.answer(result, format_, f"indicators-{result.date_from}-{result.date_to}", [result])


def _integrity_route(app: FastAPI) -> None:
    @app.get("/v1/integrity", response_model=IntegrityPage, responses={**downloads.RESPONSES,
                                                                        **error_responses(401, 422)})
    def integrity(client: Client, page: Page, format_: FormatQuery = downloads.Format.JSON) -> Any:
        report = reports.integrity(app.state.engine)
        with app.state.engine.connect() as conn:
            reach = scopes.unit_ids(conn, client.scope)
        inside = None if reach is None else set(reach)
        shown = [item for item in report.devices if inside is None or item.unit_id in inside]
        devices, paging = page.cut(shown, whole=format_ is not downloads.Format.JSON)
        result = IntegrityPage(ok=all(item.ok for item in shown), devices=devices, **paging.model_dump())
        return downloads.answer(result, format_, "integrity", devices)


def _units_route(app: FastAPI) -> None:
    @app.get("/v1/units", response_model=UnitPage, responses={**downloads.RESPONSES, **READ_ERRORS})
    def unit_list(client: Client, page: Page,
                  district: Districts = None, sector: Sectors = None,
                  format_: FormatQuery = downloads.Format.JSON) -> Any:
        with app.state.engine.connect() as conn:
            chosen = scopes.within(conn, client.scope, [], district or [], sector or [])
            reach = scopes.unit_ids(conn, chosen)
            inside = None if reach is None else set(reach)
            found = [RegisteredUnit.model_validate(row) for row in queries.listing(conn)
                     if inside is None or row["id"] in inside]
        units, paging = page.cut(found, whole=format_ is not downloads.Format.JSON)
        return downloads.answer(UnitPage(units=units, **paging.model_dump()), format_, "units", units)
