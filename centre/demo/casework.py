"""The demo's units working their bad-review cases, through the cases' own domain (centre/cases/flow.py), on
the city's simulated days: without it every case of the demo stood open, so every unit was held by overdue
cases in the model-unit round and the loop's figures (差评回复率, 回访整改率) read zero.

Each unit has a habit, drawn from the city's seed: most are prompt (assigned within hours, rectified within a
week, verified by the district office a day or two later, then closed), some slow (rectified weeks late:
overdue), a few leave their cases assigned and no further, and even a prompt unit forgets the odd one. Cases
are assigned in office hours, and a step happens only if its time falls before the demo's end, so the last
days' cases are still new or being worked, as in a real city. Some citizens give their
verdict on the receipt page (the demo's citizens leave no numbers, so nobody is called back).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from centre.cases import flow
from centre.cases.model import Actor, ActorRole, Verdict, VerdictSource
from centre.db.loop_tables import cases
from centre.db.tables import units
from centre.registry.model import DEFAULT_TIMEZONE

T = TypeVar("T")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# What a unit writes when it rectifies (cause, measures), by the level of the review: the demo's words.
RECTIFICATIONS = (
    ("窗口高峰时段人手不足，群众等候时间过长", "增开高峰时段弹性窗口，安排后台人员支援，公示预计等候时间"),
    ("工作人员解释政策不够耐心细致", "开展服务规范和政策解读培训，一次性告知清单张贴到窗口"),
    ("办理材料要求未一次性告知，群众多跑一趟", "梳理事项材料清单，推行容缺受理，由首问窗口负责到底"),
)
VERDICTS = ((Verdict.SATISFIED, 0.7), (Verdict.BASICALLY, 0.2), (Verdict.UNSATISFIED, 0.1))
RECEIPT_VERDICT_SHARE = 0.3     # citizens who look their receipt up again and say how the rectification went
FORGOTTEN_SHARE = 0.03          # even a prompt unit leaves the odd case assigned and no further: overdue
OFFICE_HOURS = (9, 18)          # a unit assigns its cases in office hours (local): the evening's wait till morning
ZONE = ZoneInfo(DEFAULT_TIMEZONE)


class Habit(Enum):
    """How a unit works its cases: (hours to assign, days to rectify, days until the district verifies)."""

    PROMPT = ((0.5, 4.0), (1.0, 6.0), (0.5, 2.0))
    SLOW = ((12.0, 72.0), (10.0, 25.0), (1.0, 5.0))
    LAX = ((2.0, 48.0), None, None)        # assigned, then left: overdue for good


HABITS = ((Habit.PROMPT, 0.75), (Habit.SLOW, 0.2), (Habit.LAX, 0.05))


@dataclass
class Worked:
    """Steps taken in the demo city's cases."""

    assigned: int = 0
    rectified: int = 0
    closed: int = 0
    verdicts: int = 0


def work(engine: Engine, seed: int, until: datetime) -> Worked:
    """Work every open case of the demo city up to `until` (the end of its last simulated day)."""
    rng = random.Random(f"{seed}:casework")
    worked = Worked()
    with engine.begin() as conn:
        districts = {row.id: str(row.district_id) for row in conn.execute(select(units.c.id, units.c.district_id))}
        habits = {unit_id: _drawn(rng, HABITS) for unit_id in sorted(districts)}
        open_cases = conn.execute(select(cases.c.id, cases.c.unit_id, cases.c.level, cases.c.opened_at)
                                  .where(cases.c.state == "new").order_by(cases.c.id)).all()
        for case in open_cases:
            office = Actor("区政务服务办", ActorRole.DISTRICT, (districts[case.unit_id],))
            manager = Actor(f"{case.unit_id} 负责人", ActorRole.UNIT, (case.unit_id,))
            _one(conn, case, habits[case.unit_id], (manager, office), rng, until, worked)
    return worked


def _one(conn: Connection, case: Any, habit: Habit, actors: tuple[Actor, Actor], rng: random.Random,
         until: datetime, worked: Worked) -> None:
    manager, office = actors
    case_id = case.id
    at = _in_office_hours(datetime.fromisoformat(case.opened_at) + rng.uniform(*habit.value[0]) * HOUR)
    if at > until:
        return
    flow.assign(conn, case_id, manager, assignee="窗口负责人", now=at)
    worked.assigned += 1
    if habit.value[1] is None or rng.random() < FORGOTTEN_SHARE:
        return
    at += rng.uniform(*habit.value[1]) * DAY
    if at > until:
        return
    cause, measures = RECTIFICATIONS[(case_id + case.level) % len(RECTIFICATIONS)]
    flow.rectify(conn, case_id, manager, cause=cause, measures=measures, now=at)
    worked.rectified += 1
    at += rng.uniform(*(habit.value[2] or (1.0, 1.0))) * DAY
    if at > until:
        return
    flow.verify(conn, case_id, office, note="整改到位", now=at)
    if rng.random() < RECEIPT_VERDICT_SHARE:
        flow.record_verdict(conn, case_id, None, verdict=_drawn(rng, VERDICTS), source=VerdictSource.RECEIPT,
                            now=at + HOUR)
        worked.verdicts += 1
    flow.close(conn, case_id, office, now=at + 2 * HOUR)
    worked.closed += 1


def _in_office_hours(moment: datetime) -> datetime:
    """`moment`, or the next morning's opening when it falls outside the office's hours."""
    local = moment.astimezone(ZONE)
    start, end = OFFICE_HOURS
    if local.hour < start:
        return local.replace(hour=start, minute=0)
    if local.hour >= end:
        return (local + DAY).replace(hour=start, minute=0)
    return moment


def _drawn(rng: random.Random, weighted: tuple[tuple[T, float], ...]) -> T:
    point, total = rng.random(), 0.0
    for item, weight in weighted:
        total += weight
        if point < total:
            return item
    return weighted[-1][0]
