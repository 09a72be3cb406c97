"""The model-unit round (centre/modelround.py) on a real SQLite file: the phases of the policy's year, the
candidates against the target, applications and acceptance checks, the confirmed list (once), and the
withdrawal of a title whose holder falls short the next year. The figures are crafted rollups (what the
ingest keeps), so each unit's year is exactly the ratings the test says."""
from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from centre import modelround, rollups, roundcalendar, roundtitles
from centre.db.engine import open_engine
from centre.db.tables import model_rounds, model_titles
from centre.errors import BadInput, NotFound
from centre.indicators import PeriodKind, Scope, compute, period_of, wilson
from centre.modelround import Acceptance, Eligibility, Gate, RoundConflict
from centre.roundcalendar import Phase, When, phase_of
from tests.centre.conftest import register

YEAR = 2026
MIN = 100


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_engine(f"sqlite:///{tmp_path / 'centre.db'}")


def rated(engine: Engine, unit: str, good: int, bad: int, year: int = YEAR) -> None:
    """A registered unit with `good` ratings of level 4 and `bad` of level 1 on 3 March of `year`."""
    register(engine, unit, "c-1")
    deltas: Counter[rollups.Key] = Counter()
    day = f"{year}-03-03"
    deltas[(unit, day, "c-1", "", "panel", "level", "4")] += good
    deltas[(unit, day, "c-1", "", "panel", "level", "1")] += bad
    with engine.begin() as conn:
        rollups.add(conn, +deltas)


def board(engine: Engine, year: int = YEAR) -> modelround.Candidates:
    figures = modelround.year_figures(engine, year, MIN)
    with engine.connect() as conn:
        return modelround.candidates(conn, year, figures)


def by_unit(found: modelround.Candidates) -> dict[str, modelround.Standing]:
    return {standing.unit_id: standing for standing in found.standings}


def test_the_phase_of_a_date_follows_the_policys_year() -> None:
    assert phase_of(date(2026, 3, 31)) is Phase.NOT_OPEN
    assert phase_of(date(2026, 4, 1)) is Phase.MOBILISATION
    assert phase_of(date(2026, 5, 1)) is Phase.FINDING and phase_of(date(2026, 6, 30)) is Phase.FINDING
    assert phase_of(date(2026, 7, 1)) is Phase.RECTIFICATION and phase_of(date(2026, 9, 30)) is Phase.RECTIFICATION
    assert phase_of(date(2026, 10, 1)) is Phase.ACCEPTANCE and phase_of(date(2026, 11, 30)) is Phase.ACCEPTANCE
    assert phase_of(date(2026, 12, 1)) is Phase.RESULTS and phase_of(date(2026, 12, 31)) is Phase.RESULTS
    spans = roundcalendar.timeline(2028, date(2028, 8, 15))
    assert [(s.phase, s.start, s.end, s.when) for s in spans] == [
        (Phase.MOBILISATION, date(2028, 4, 1), date(2028, 4, 30), When.DONE),
        (Phase.FINDING, date(2028, 5, 1), date(2028, 6, 30), When.DONE),
        (Phase.RECTIFICATION, date(2028, 7, 1), date(2028, 9, 30), When.NOW),
        (Phase.ACCEPTANCE, date(2028, 10, 1), date(2028, 11, 30), When.LATER),
        (Phase.RESULTS, date(2028, 12, 1), date(2028, 12, 31), When.LATER)]
    assert all(s.when is When.DONE for s in roundcalendar.timeline(2027, date(2028, 1, 2)))
    today = date(2026, 12, 5)
    assert roundcalendar.parse_year(None, today) == 2026 and roundcalendar.parse_year("2027", today) == 2027
    for bad in ("1800", "abc", "2028", "-1", "２０２６", "20260"):
        with pytest.raises(BadInput):
            roundcalendar.parse_year(bad, today)


def test_candidates_are_ranked_by_lower_bound_at_or_above_the_target(engine: Engine) -> None:
    rated(engine, "sure", 950, 50)        # 95 % of 1,000: lower bound ~93.5 %
    rated(engine, "likely", 180, 20)      # 90 % of 200: lower bound ~85.0 %, a higher rate than "big" …
    rated(engine, "big", 8800, 1200)      # … 88 % of 10,000 has the higher lower bound (~87.4 %)
    rated(engine, "close", 85, 15)        # 85 % of 100: lower bound ~76.7 %: below the 80 % line
    rated(engine, "few", 99, 0)           # 100 % but 99 ratings: too few, never ranked
    rated(engine, "low", 600, 400)
    found = board(engine)
    units = by_unit(found)
    assert [s.unit_id for s in found.standings] == ["sure", "big", "likely", "close", "low", "few"]
    assert [units[u].rank for u in ("sure", "big", "likely")] == [1, 2, 3]
    assert {units[u].eligibility for u in ("sure", "big", "likely")} == {Eligibility.CANDIDATE}
    assert (units["close"].eligibility, units["close"].rank) == (Eligibility.BELOW_TARGET, None)
    assert (units["few"].eligibility, units["few"].rank, units["few"].good_rate) == (Eligibility.TOO_FEW, None, 1.0)
    # the same figures indicators.compute gives each unit on its own
    alone = compute(engine, Scope.units(["big"]), period_of(PeriodKind.YEAR, date(YEAR, 6, 1)), MIN)
    assert (units["big"].rated, units["big"].good_rate, units["big"].interval) == (
        alone.rated, alone.good_rate, alone.good_rate_interval)
    low = wilson(180, 200)
    assert low is not None and units["likely"].interval is not None
    assert units["likely"].interval.low == pytest.approx(low[0])
    # no integrity flag holds any unit (none was raised) and no case is overdue (no case)
    assert {(s.integrity, s.overdue_cases) for s in found.standings} == {(Gate.CLEAR, Gate.CLEAR)}
    # a round of two titles: only the best two candidates are within them
    with engine.begin() as conn:
        modelround.set_terms(conn, YEAR, 80, 2)
    assert [s.unit_id for s in board(engine).standings if s.within_titles] == ["sure", "big"]
    # a higher target drops "likely" (lower bound ~85 %) and "big" (~87.4 %)
    with engine.begin() as conn:
        before, after = modelround.set_terms(conn, YEAR, 88, 60)
    assert (before.target_percent, before.titles, after.target_percent, after.titles) == (80, 2, 88, 60)
    assert [s.unit_id for s in board(engine).standings if s.eligibility is Eligibility.CANDIDATE] == ["sure"]
    # a read writes nothing: another year's round has its default terms without a row
    with engine.connect() as conn:
        other = modelround.round_of(conn, YEAR + 1)
        assert (other.target_percent, other.titles) == (80, 60)
        assert conn.execute(select(func.count()).select_from(model_rounds)).scalar_one() == 1


def test_confirm_awards_the_accepted_applicants_once_and_closes_the_round(engine: Engine) -> None:
    for unit, good in (("a", 960), ("b", 940), ("c", 920), ("d", 900), ("e", 700)):
        rated(engine, unit, good, 1000 - good)
    with engine.begin() as conn:
        modelround.set_terms(conn, YEAR, 80, 2)
        for unit in ("b", "c", "d", "e"):           # "a", the best, does not apply
            modelround.apply(conn, YEAR, unit, "office" if unit == "e" else f"manager-{unit}", "申报")
        with pytest.raises(RoundConflict):
            modelround.apply(conn, YEAR, "b", "manager-b")
        with pytest.raises(NotFound):
            modelround.apply(conn, YEAR, "nowhere", "office")
        with pytest.raises(BadInput):
            modelround.record_check(conn, YEAR, "a", "ledger", "passed", "", "office")   # never applied
        with pytest.raises(BadInput):
            modelround.record_check(conn, YEAR, "b", "x-ray", "passed", "", "office")
        modelround.record_check(conn, YEAR, "b", "ledger", "passed", "台账齐全", "office")
        # "c": an open visit failed, a ledger review later does not clear it; a second open visit does
        modelround.record_check(conn, YEAR, "c", "open_visit", "failed", "窗口无人", "office")
        modelround.record_check(conn, YEAR, "c", "ledger", "passed", "", "office")
    assert by_unit(board(engine))["c"].acceptance is Acceptance.FAILED
    with engine.begin() as conn:
        modelround.record_check(conn, YEAR, "c", "open_visit", "passed", "复查通过", "office")
        modelround.record_check(conn, YEAR, "d", "commissioned", "passed", "", "office")
        modelround.record_check(conn, YEAR, "e", "cross_check", "passed", "", "office")    # but below the line
    found = by_unit(board(engine))
    assert found["c"].acceptance is Acceptance.PASSED and found["a"].acceptance is Acceptance.NOT_CHECKED
    # b, c and d qualify; two titles: the two best lower bounds
    assert [unit for unit, s in found.items() if s.chosen] == ["b", "c"]

    figures = modelround.year_figures(engine, YEAR, MIN)
    with engine.begin() as conn:
        awarded = modelround.confirm(conn, YEAR, figures, "office")
    assert [(t.year, t.unit_id, t.awarded_by) for t in awarded] == [(YEAR, "b", "office"), (YEAR, "c", "office")]
    with engine.begin() as conn:
        terms = modelround.round_of(conn, YEAR)
        assert terms.confirmed and terms.confirmed_by == "office"
        with pytest.raises(RoundConflict):
            modelround.confirm(conn, YEAR, figures, "office")
        with pytest.raises(RoundConflict):
            modelround.apply(conn, YEAR, "a", "office")
        with pytest.raises(RoundConflict):
            modelround.record_check(conn, YEAR, "d", "ledger", "passed", "", "office")
        with pytest.raises(RoundConflict):
            modelround.set_terms(conn, YEAR, 80, 60)
        assert [(y, [t.unit_id for t in held]) for y, held in roundtitles.titles_by_year(conn, YEAR)] == [
            (YEAR, ["b", "c"])]
    after = by_unit(board(engine))
    assert [unit for unit, s in after.items() if s.chosen] == ["b", "c"]
    assert after["b"].title is not None and after["d"].title is None


def test_nobody_to_award_is_refused(engine: Engine) -> None:
    rated(engine, "a", 950, 50)
    with engine.begin() as conn:
        with pytest.raises(BadInput, match="nobody to award"):
            modelround.confirm(conn, YEAR, modelround.year_figures(engine, YEAR, MIN), "office")
        assert not modelround.round_of(conn, YEAR).confirmed


def test_a_holder_that_falls_short_next_year_is_listed_and_its_title_withdrawn(engine: Engine) -> None:
    for unit in ("keeps", "slips", "quiet"):
        rated(engine, unit, 950, 50, year=YEAR - 1)
    with engine.begin() as conn:
        for unit in ("keeps", "slips", "quiet"):
            modelround.apply(conn, YEAR - 1, unit, "office")
            modelround.record_check(conn, YEAR - 1, unit, "ledger", "passed", "", "office")
        modelround.confirm(conn, YEAR - 1, modelround.year_figures(engine, YEAR - 1, MIN), "office")
    rated(engine, "keeps", 900, 100)       # still well above the line this year
    rated(engine, "slips", 700, 300)       # below it
    rated(engine, "quiet", 40, 0)          # too few ratings to show it holds
    found = board(engine)
    assert [(s.unit_id, s.eligibility) for s in found.shortfalls] == [
        ("slips", Eligibility.BELOW_TARGET), ("quiet", Eligibility.TOO_FEW)]
    assert by_unit(found)["keeps"].held is not None

    figures = modelround.year_figures(engine, YEAR, MIN)
    with engine.begin() as conn:
        with pytest.raises(BadInput, match="does not fall short"):
            modelround.withdraw(conn, YEAR, "keeps", "no reason", figures, "office")
        with pytest.raises(BadInput, match="reason"):
            modelround.withdraw(conn, YEAR, "slips", "  ", figures, "office")
        title = modelround.withdraw(conn, YEAR, "slips", "满意率低于 80%", figures, "office")
        assert (title.year, title.withdrawn_in, title.withdrawn_by, title.withdrawal_reason) == (
            YEAR - 1, YEAR, "office", "满意率低于 80%")
        with pytest.raises(RoundConflict):
            modelround.withdraw(conn, YEAR, "slips", "again", figures, "office")
        # the award is kept beside its withdrawal, and the withdrawal is listed as the awards are
        assert conn.execute(select(func.count()).select_from(model_titles)).scalar_one() == 3
        assert [(t.unit_id, t.withdrawn_in) for t in roundtitles.withdrawn(conn, YEAR)] == [("slips", YEAR)]
        assert roundtitles.withdrawn(conn, YEAR - 1) == []
    assert [s.unit_id for s in board(engine).shortfalls] == ["quiet"]
