"""The city office's review of a flag: dismissed with a reason, or confirmed, once, each with its review row and
an audit row; a confirmation may exclude the ratings the flag names (kept, counted as excluded, never deleted);
an open or confirmed flag holds the unit's model-unit candidacy."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from centre import modelround, rollups
from centre.db.loop_tables import rating_exclusions
from centre.db.tables import audit_log, ratings, rollup_days
from centre.errors import BadInput
from centre.integrity import flags, review
from centre.integrity.analysis import analyse
from centre.integrity.model import FlagState, SignalKind
from centre.integrity.review import ReviewConflict
from centre.integrity.settings import IntegritySettings
from centre.modelround import Gate
from tests.centre.integrity import crafted
from tests.centre.integrity.conftest import NOW, Crafted


def analysed(city: Crafted, tmp_path: Path) -> Engine:
    engine = city.engine(tmp_path)
    analyse(engine, crafted.FIRST, crafted.LAST, IntegritySettings(workers=1), now=NOW)
    return engine


def flag_of(engine: Engine, kind: SignalKind) -> flags.Flag:
    with engine.connect() as conn:
        return flags.flags(conn, kind=kind)[0]


def counted(engine: Engine, unit: str, measure: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(rollup_days.c.n), 0)).where(
            rollup_days.c.unit_id == unit, rollup_days.c.measure == measure)).scalar_one())


def test_confirming_excludes_the_named_ratings_and_deletes_nothing(city: Crafted, tmp_path: Path) -> None:
    engine = analysed(city, tmp_path)
    flag = flag_of(engine, SignalKind.OUT_OF_HOURS)
    named = list(flag.evidence.rating_uuids)
    assert len(named) == 6
    with engine.begin() as conn:      # one of them excluded before, by an upheld appeal
        conn.execute(rating_exclusions.insert().values(rating_uuid=named[0], case_id=None, flag_id=None,
                                                       decided_at="2026-02-20T00:00:00.000000+00:00",
                                                       decided_by="office", reason="appeal upheld"))
        rollups.exclude(conn, named[0])
    level, excluded = counted(engine, "ooh", "level"), counted(engine, "ooh", "excluded")
    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(ratings)).scalar_one()
    with engine.begin() as conn:
        review.confirm(conn, flag.id, "office", "served after closing, rated by the staff", exclude=True,
                       address="10.0.0.9")
    assert (counted(engine, "ooh", "level"), counted(engine, "ooh", "excluded")) == (level - 5, excluded + 5)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ratings)).scalar_one() == held      # none deleted
        rows = conn.execute(select(rating_exclusions.c.rating_uuid, rating_exclusions.c.flag_id)).all()
        assert sorted(uuid for uuid, flag_id in rows if flag_id == flag.id) == sorted(named[1:])
        [made] = review.reviews(conn, flag.id)
        assert (made["decision"], made["excluded"], made["decided_by"]) == ("confirmed", 5, "office")
        audit = conn.execute(select(audit_log).where(audit_log.c.action == review.INTEGRITY_REVIEWED)).mappings().one()
        assert (audit["actor"], audit["target"], audit["address"]) == (
            "office", f"integrity_flag:{flag.id}", "10.0.0.9")
        assert audit["detail"]["excluded"] == 5 and audit["detail"]["decision"] == "confirmed"
        assert flags.flag(conn, flag.id).state is FlagState.CONFIRMED      # type: ignore[union-attr]
    with engine.begin() as conn, pytest.raises(ReviewConflict):
        review.dismiss(conn, flag.id, "office", "changed my mind")
    # the rollups' recount from the raw rows agrees with what the exclusion moved
    with engine.begin() as conn:
        assert rollups.rebuild_in(conn).differed == 0


def test_dismissing_needs_a_reason_and_excludes_nothing(city: Crafted, tmp_path: Path) -> None:
    engine = analysed(city, tmp_path)
    flag = flag_of(engine, SignalKind.TECHNICIAN_MODE)
    with engine.begin() as conn, pytest.raises(BadInput):
        review.dismiss(conn, flag.id, "office", "   ")
    with engine.begin() as conn:
        review.dismiss(conn, flag.id, "office", "the technician's test presses, logged by the vendor")
    with engine.connect() as conn:
        assert flags.flag(conn, flag.id).state is FlagState.DISMISSED      # type: ignore[union-attr]
        assert conn.execute(select(func.count()).select_from(rating_exclusions)).scalar_one() == 0
        assert [r["excluded"] for r in review.reviews(conn, flag.id)] == [0]


def test_an_open_or_confirmed_flag_holds_the_candidacy_and_a_dismissed_one_does_not(city: Crafted,
                                                                                      tmp_path: Path) -> None:
    engine = analysed(city, tmp_path)
    figures = modelround.year_figures(engine, 2026, min_ratings=10)

    def gates() -> dict[str, Gate]:
        with engine.connect() as conn:
            return {s.unit_id: s.integrity for s in modelround.candidates(conn, 2026, figures).standings}
    assert gates()["ooh"] is Gate.HELD and gates()["honest"] is Gate.CLEAR
    with engine.connect() as conn:
        held = review.open_flags_by_unit(conn, 2026)
        assert held["ooh"] == 1 and "honest" not in held and review.open_flags_by_unit(conn, 2025) == {}
        ooh = [flag.id for flag in flags.flags(conn, unit_ids=["ooh"])]
    with engine.begin() as conn:
        for flag_id in ooh:
            review.dismiss(conn, flag_id, "office", "an evening opening the registry did not know")
    assert gates()["ooh"] is Gate.CLEAR
    tech = flag_of(engine, SignalKind.TECHNICIAN_MODE)
    with engine.begin() as conn:
        review.confirm(conn, tech.id, "office", "ratings pressed in technician mode", exclude=False)
    assert gates()["tech"] is Gate.HELD
