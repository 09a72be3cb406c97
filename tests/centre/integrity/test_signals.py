"""Each signal on the crafted city (tests/centre/integrity/conftest.py): it fires where its kind was planted, on
the planted subject, and nowhere else: not at the honest unit, not at the planted unit's honest counter, not for
the honest look-alikes planted beside some (a technician's visit with no rating, a failing panel's bouncing key,
a receipt looked up before its rating arrived)."""
from __future__ import annotations

import pytest

from centre.integrity.model import Finding, SignalKind
from tests.centre.integrity.conftest import Crafted

K = SignalKind


def of_kind(city: Crafted, kind: SignalKind) -> list[Finding]:
    return [found for found in city.findings if found.kind is kind]


@pytest.mark.parametrize("kind", list(SignalKind), ids=lambda kind: kind.value)
def test_each_signal_fires_on_its_planted_subject_and_nowhere_else(city: Crafted, kind: SignalKind) -> None:
    unit, counter = city.planted[kind]
    found = of_kind(city, kind)
    fired = [f for f in found if f.unit_id == unit and (counter is None or f.counter_id == counter)]
    assert fired, f"{kind.value} did not fire on {unit}/{counter}: {[(f.unit_id, f.counter_id) for f in found]}"
    elsewhere = [(f.unit_id, f.counter_id, f.staff_id, f.figure) for f in found if f not in fired]
    assert not elsewhere, f"{kind.value} fired where nothing was planted: {elsewhere}"
    for each in fired:
        assert each.detail["test"] and each.day_from <= each.day_to


def test_the_honest_unit_raises_no_flag_of_any_kind(city: Crafted) -> None:
    assert [(f.kind.value, f.counter_id) for f in city.findings if f.unit_id == "honest"] == []


def test_findings_name_their_evidence(city: Crafted) -> None:
    by_kind = {f.kind: f for f in city.findings if city.planted[f.kind][0] == f.unit_id}
    # counts of single records name them: the three ratings after closing time, the four without a request …
    assert by_kind[K.OUT_OF_HOURS].evidence.ratings_total == 6
    assert by_kind[K.UNSOLICITED].evidence.ratings_total == 4
    assert by_kind[K.NO_STAFF].evidence.ratings_total == 6
    assert by_kind[K.TECHNICIAN_MODE].evidence.ratings_total == 3 and by_kind[K.TECHNICIAN_MODE].evidence.event_ids
    assert by_kind[K.MORE_RATINGS_THAN_CASES].evidence.ratings_total == 6
    assert by_kind[K.SUPPRESSED_SPIKE].evidence.events_total == 40
    assert by_kind[K.TOP_BURST].evidence.ratings_total >= 30
    fast = by_kind[K.FAST_PRESS]
    assert fast.staff_id == "fast-c-1-staff" and fast.evidence.ratings_total == fast.evidence.events_total
    # … and a distribution names no single rating: confirming it excludes nothing
    assert by_kind[K.NO_BAD_REVIEWS].evidence.ratings_total == 0
    assert by_kind[K.STEP_AFTER_RANKING].detail["published"] == "2026-02-01"
    # the tests' figures against their thresholds, in the direction the test fires
    assert by_kind[K.NO_BAD_REVIEWS].figure < by_kind[K.NO_BAD_REVIEWS].threshold
    assert by_kind[K.UNRATED_COLLAPSE].figure >= by_kind[K.UNRATED_COLLAPSE].threshold
    assert by_kind[K.SELECTIVE_SILENCE].device_id is not None
