"""schemathesis against the OpenAPI document a real collector process serves: no request makes a 5xx.

The document is fetched over HTTP from the running server, so what is tested is what a client reads.
Signed endpoints answer generated requests with 401 (no generated signature is valid): that is the
contract. What must never happen, on either backend, is a server error or an answer the document
does not describe.

schemathesis's own pytest integration (`schemathesis.pytest.from_fixture`) does not run under
pytest 9.2 (it sets `Node._nodeid`, which pytest no longer has), so each operation's strategy is
driven by Hypothesis directly: the same cases and checks, without that plugin.
"""
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.centre.conftest import TIMEOUT, Collector

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded and reproducible: a fixed number of cases per operation and mode, from a derandomized search.
# Health checks off: every case is an HTTP round trip (too slow for them) and schemathesis filters
# its own strategies; what this test asserts is the server's answers.
BOUNDED = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


@pytest.fixture
def openapi(collector: Collector) -> Any:
    # An explicit config: a schemathesis.toml lying around must not change what this test does.
    return schemathesis.openapi.from_url(collector.url + "/openapi.json", config=schemathesis.Config(),
                                         timeout=TIMEOUT[1])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_operation_answers_a_server_error(openapi: Any, collector: Collector, mode: GenerationMode) -> None:
    # The read routes answer only an API token (issue 15, item 7): with the city's, they are tested past the 401.
    failures, tested, token = [], [], collector.bearer()
    for result in openapi.get_all_operations():
        operation = result.ok()   # a document the tool cannot read is itself a failure
        tested.append(operation.label)

        @BOUNDED
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS, headers=token, timeout=TIMEOUT[1])

        try:
            check()
        except Unsatisfiable:
            # Negative mode only: nothing in the operation can be made invalid (no parameters, or
            # only string headers, and every string is a valid header). Nothing to test there.
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:
            failures.append(f"{operation.label}:\n{exc}")
    assert {"POST /v1/ingest", "GET /v1/reports/summary", "GET /v1/indicators", "GET /v1/units"} <= set(tested), tested
    assert not failures, "\n\n".join(failures)
