"""The model-unit round (示范点创评) of a year: its terms, its candidates, the units' applications (申报), the
office's acceptance checks (验收), the confirmed list and the withdrawal of a title (its calendar is
centre/roundcalendar.py, the titles' record centre/roundtitles.py). No web here: the console's Round page
(centre/console/pages/round.py) asks this module, checks who may do what and records each change in the audit log.

The rules, as the policy gives them and as this module applies them:
- Terms: a target (the 好评率 line, 80 %) and a number of titles (60), written on the round's first change;
  the city office may change them until the list is confirmed.
- A candidate: the lower bound of its year's 好评率 (Wilson 95 %) at or above the target, with at least
  `min_ratings` ratings. An open or confirmed integrity flag over the year's days holds the unit (Gate.HELD,
  centre/integrity/review.py), and so does a case of the year's bad reviews overdue at the year's end (or now)
  while the city's `cases.overdue_blocks_candidacy` is on (centre/cases/figures.py overdue_units).
- Acceptance: passed when every method used on the unit has its latest check passed, so a failed 明查暗访
  is cleared only by a later 明查暗访 that passes, not by a ledger review; no check yet: not accepted.
- Confirmation (once, by the city office): the titles go to the candidates that applied and passed
  acceptance, best lower bound first (ties by unit id), at most `titles` of them. From then on the round's
  terms, applications and checks are closed.
- Withdrawal: a holder of last year's title whose figures this year fall short (lower bound below the
  target, or too few ratings) is listed; a withdrawal records this round, who, when and why beside the
  award. Nothing is ever deleted.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from sqlalchemy import Connection, Engine, select, update

from centre.cases import figures as case_figures
from centre.cases.settings import current as case_settings
from centre.comparisons import Ranking, ranking
from centre.db.rows import now_text, nul_field
from centre.db.tables import model_applications, model_checks, model_rounds, model_titles, units
from centre.errors import BadInput, CentreError, NotFound
from centre.indicators import MIN_RATINGS, Interval, PeriodKind, period_of
from centre.integrity.review import open_flags_by_unit
from centre.roundtitles import Title, titles_of

DEFAULT_TARGET = Decimal("0.80")
DEFAULT_TITLES = 60
MAX_TITLES = 10_000
MAX_TEXT = 2000              # a note, a check's notes, a withdrawal's reason
E = TypeVar("E", bound=Enum)


class RoundConflict(CentreError):
    """The change contradicts what is recorded: a second confirmation, a second application, a change to a
    confirmed round, a title already withdrawn."""

    status = 409


class Method(str, Enum):
    LEDGER = "ledger"                   # 查看台账
    OPEN_VISIT = "open_visit"           # 明查暗访
    CROSS_CHECK = "cross_check"         # 交叉互查
    COMMISSIONED = "commissioned"       # 委托测评


class Result(str, Enum):
    PASSED = "passed"
    FAILED = "failed"


class Acceptance(str, Enum):
    NOT_CHECKED = "not_checked"
    PASSED = "passed"
    FAILED = "failed"


class Eligibility(str, Enum):
    CANDIDATE = "candidate"
    BELOW_TARGET = "below_target"       # the lower bound under the target
    TOO_FEW = "too_few"                 # fewer ratings than the round's minimum: never ranked


class Gate(str, Enum):
    """A condition another issue will measure (integrity flags, overdue bad-review cases)."""

    NOT_YET_CHECKED = "not_yet_checked"
    CLEAR = "clear"
    HELD = "held"


# -- the round's terms --------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    year: int
    target: Decimal
    titles: int
    confirmed_by: str | None
    confirmed_at: str | None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def target_rate(self) -> float:
        return float(self.target)

    @property
    def target_percent(self) -> int:
        return int(self.target * 100)


def round_of(conn: Connection, year: int) -> Round:
    """The year's round as recorded, or its default terms (a read writes nothing)."""
    row = conn.execute(select(model_rounds).where(model_rounds.c.year == year)).first()
    if row is None:
        return Round(year, DEFAULT_TARGET, DEFAULT_TITLES, None, None)
    return Round(year, Decimal(row.target), row.titles, row.confirmed_by, row.confirmed_at)


def _ensure(conn: Connection, year: int) -> Round:
    """The round, written with its default terms on its first change (applications and checks refer to it)."""
    if conn.execute(select(model_rounds.c.year).where(model_rounds.c.year == year)).first() is None:
        conn.execute(model_rounds.insert().values(year=year, target=f"{DEFAULT_TARGET:.2f}", titles=DEFAULT_TITLES,
                                                  confirmed_by=None, confirmed_at=None))
    return round_of(conn, year)


def _open(conn: Connection, year: int) -> Round:
    found = _ensure(conn, year)
    if found.confirmed:
        raise RoundConflict(f"the {year} round was confirmed by {found.confirmed_by} at {found.confirmed_at}: "
                            "its terms, applications and checks are closed")
    return found


def set_terms(conn: Connection, year: int, target_percent: int, titles: int) -> tuple[Round, Round]:
    """(before, after): a new target (a whole percent) and number of titles, before the list is confirmed."""
    if not 1 <= target_percent <= 100:
        raise BadInput(f"target: a whole percent from 1 to 100, got {target_percent}")
    if not 1 <= titles <= MAX_TITLES:
        raise BadInput(f"titles: from 1 to {MAX_TITLES:,}, got {titles}")
    before = _open(conn, year)
    conn.execute(update(model_rounds).where(model_rounds.c.year == year).values(
        target=f"{Decimal(target_percent) / 100:.2f}", titles=titles))
    return before, round_of(conn, year)


# -- applications and checks --------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    unit_id: str
    applied_at: str
    applied_by: str
    note: str


@dataclass(frozen=True)
class Check:
    id: int
    unit_id: str
    method: Method
    result: Result
    notes: str
    checked_by: str
    checked_at: str


def _text(what: str, value: str, *, required: bool = False) -> str:
    value = value.strip()
    if nul_field({what: value}):
        raise BadInput(f"{what}: contains a NUL character")
    if len(value) > MAX_TEXT:
        raise BadInput(f"{what}: at most {MAX_TEXT:,} characters, got {len(value):,}")
    if required and not value:
        raise BadInput(f"{what}: required")
    return value


def _require_unit(conn: Connection, unit_id: str) -> None:
    if nul_field({"unit": unit_id}) or conn.execute(
            select(units.c.id).where(units.c.id == unit_id)).first() is None:
        raise NotFound(f"no unit {unit_id!r} in the registry")


def applications(conn: Connection, year: int) -> dict[str, Application]:
    return {row.unit_id: Application(row.unit_id, row.applied_at, row.applied_by, row.note) for row in conn.execute(
        select(model_applications).where(model_applications.c.year == year))}


def apply(conn: Connection, year: int, unit_id: str, actor: str, note: str = "") -> Application:
    """The unit's application (申报) for the year's round; the caller checks the actor may speak for it."""
    note = _text("note", note)
    _require_unit(conn, unit_id)
    _open(conn, year)
    if unit_id in applications(conn, year):
        raise RoundConflict(f"unit {unit_id} has applied for the {year} round already")
    conn.execute(model_applications.insert().values(year=year, unit_id=unit_id, applied_at=now_text(),
                                                    applied_by=actor, note=note))
    return applications(conn, year)[unit_id]


def parse_method(value: str) -> Method:
    return _choice(Method, "method", value)


def parse_result(value: str) -> Result:
    return _choice(Result, "result", value)


def _choice(kind: type[E], what: str, value: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise BadInput(f"{what}: one of {', '.join(item.value for item in kind)}, got {value[:40]!r}") from None


def checks(conn: Connection, year: int) -> dict[str, list[Check]]:
    """Each unit's acceptance checks, oldest first."""
    found: dict[str, list[Check]] = {}
    for row in conn.execute(select(model_checks).where(model_checks.c.year == year)
                            .order_by(model_checks.c.checked_at, model_checks.c.id)):
        found.setdefault(row.unit_id, []).append(Check(row.id, row.unit_id, Method(row.method), Result(row.result),
                                                       row.notes, row.checked_by, row.checked_at))
    return found


def record_check(conn: Connection, year: int, unit_id: str, method: str, result: str, notes: str,
                 actor: str) -> Check:
    """An acceptance check (验收) of a unit that applied: how, the result, notes, by whom (the city office)."""
    chosen_method, chosen_result, notes = parse_method(method), parse_result(result), _text("notes", notes)
    _require_unit(conn, unit_id)
    _open(conn, year)
    if unit_id not in applications(conn, year):
        raise BadInput(f"unit {unit_id} has not applied for the {year} round: a check follows an application")
    conn.execute(model_checks.insert().values(year=year, unit_id=unit_id, method=chosen_method.value,
                                              result=chosen_result.value, notes=notes, checked_by=actor,
                                              checked_at=now_text()))
    return checks(conn, year)[unit_id][-1]


def acceptance(unit_checks: Iterable[Check]) -> Acceptance:
    """Passed when each method used has its latest check passed (the checks come oldest first)."""
    latest = {check.method: check.result for check in unit_checks}
    if not latest:
        return Acceptance.NOT_CHECKED
    return Acceptance.PASSED if all(r is Result.PASSED for r in latest.values()) else Acceptance.FAILED


# -- candidates ---------------------------------------------------------------------------


def year_figures(engine: Engine, year: int, min_ratings: int = MIN_RATINGS) -> Ranking:
    """Every unit's figures over the year so far, in one sum of the rollups (comparisons.ranking: the same
    figures indicators.compute gives one unit, without a query per unit on a city of a thousand)."""
    return ranking(engine, period_of(PeriodKind.YEAR, date(year, 1, 1)), None, min_ratings)


@dataclass(frozen=True)
class Standing:
    """A unit in the year's round: its figures, where they put it, and what the round holds of it."""

    unit_id: str
    name: str | None
    name_en: str | None
    rated: int
    good_rate: float | None
    interval: Interval | None
    eligibility: Eligibility
    rank: int | None                 # among the candidates (equal lower bounds share one); None: not one
    within_titles: bool              # among the best `titles` candidates
    application: Application | None
    checks: tuple[Check, ...]
    acceptance: Acceptance
    integrity: Gate
    overdue_cases: Gate
    chosen: bool                     # awarded a title at confirmation (before it: would be, as things stand)
    title: Title | None              # this round's title, once confirmed
    held: Title | None               # last round's title, withdrawn or not


@dataclass(frozen=True)
class Candidates:
    round: Round
    min_ratings: int
    date_from: str
    date_to: str
    standings: list[Standing]        # the candidates by rank, then those below the target, then too few

    def within(self, unit_ids: tuple[str, ...] | None) -> list[Standing]:
        """The standings of the units a viewer sees (None: all), each keeping its city-wide rank."""
        if unit_ids is None:
            return self.standings
        seen = set(unit_ids)
        return [standing for standing in self.standings if standing.unit_id in seen]

    @property
    def chosen(self) -> list[Standing]:
        return [standing for standing in self.standings if standing.chosen]

    @property
    def shortfalls(self) -> list[Standing]:
        """Holders of last year's title whose figures this year fall short, not yet withdrawn."""
        return [standing for standing in self.standings if standing.held is not None
                and standing.held.withdrawn_in is None and standing.eligibility is not Eligibility.CANDIDATE]


def _eligibility(rated_enough: bool, low: float | None, target: float) -> Eligibility:
    if not rated_enough or low is None:
        return Eligibility.TOO_FEW
    return Eligibility.CANDIDATE if low >= target else Eligibility.BELOW_TARGET


def candidates(conn: Connection, year: int, figures: Ranking) -> Candidates:
    """The year's round as it stands: `figures` (year_figures) against its target, with what is recorded."""
    terms = round_of(conn, year)
    applied, checked, flagged = applications(conn, year), checks(conn, year), open_flags_by_unit(conn, year)
    awarded, held = titles_of(conn, year), titles_of(conn, year - 1)
    overdue, blocking = _overdue(conn, figures), case_settings().overdue_blocks_candidacy
    rows = []
    for unit in figures.units:
        low = unit.good_rate_interval.low if unit.good_rate_interval else None
        rows.append((unit, low, _eligibility(not unit.too_few, low, terms.target_rate)))
    order = {Eligibility.CANDIDATE: 0, Eligibility.BELOW_TARGET: 1, Eligibility.TOO_FEW: 2}
    rows.sort(key=lambda row: (order[row[2]], -(row[1] or 0.0) if row[2] is not Eligibility.TOO_FEW else 0.0,
                               row[0].unit_id))
    standings: list[Standing] = []
    position, rank, previous_low, qualified = 0, 0, None, 0
    for unit, low, eligibility in rows:
        unit_rank = None
        if eligibility is Eligibility.CANDIDATE:
            position += 1
            rank = rank if low == previous_low else position
            unit_rank, previous_low = rank, low
        unit_checks = tuple(checked.get(unit.unit_id, ()))
        accepted = acceptance(unit_checks)
        late = Gate.HELD if unit.unit_id in overdue else Gate.CLEAR
        qualifies = (eligibility is Eligibility.CANDIDATE and unit.unit_id in applied and unit.unit_id not in flagged
                     and accepted is Acceptance.PASSED and not (blocking and late is Gate.HELD))
        if terms.confirmed:
            chosen = unit.unit_id in awarded
        else:
            chosen = qualifies and qualified < terms.titles
            qualified += qualifies
        standings.append(Standing(
            unit_id=unit.unit_id, name=unit.name, name_en=unit.name_en, rated=unit.rated, good_rate=unit.good_rate,
            interval=unit.good_rate_interval, eligibility=eligibility, rank=unit_rank,
            within_titles=unit_rank is not None and position <= terms.titles, application=applied.get(unit.unit_id),
            checks=unit_checks, acceptance=accepted, integrity=Gate.HELD if unit.unit_id in flagged else Gate.CLEAR,
            overdue_cases=late, chosen=chosen, title=awarded.get(unit.unit_id),
            held=held.get(unit.unit_id)))
    return Candidates(terms, figures.min_ratings, figures.date_from, figures.date_to, standings)


def _overdue(conn: Connection, figures: Ranking) -> set[str]:
    return case_figures.overdue_units(conn, date.fromisoformat(figures.date_from), date.fromisoformat(figures.date_to))


# -- confirmation and withdrawal ----------------------------------------------------------


def confirm(conn: Connection, year: int, figures: Ranking, actor: str) -> list[Title]:
    """Award the year's titles to the chosen candidates (see the module's rules) and close the round: once."""
    _open(conn, year)
    chosen = candidates(conn, year, figures).chosen
    if not chosen:
        raise BadInput(f"nobody to award in the {year} round: no candidate has applied and passed acceptance")
    at = now_text()
    done = conn.execute(update(model_rounds).where(model_rounds.c.year == year, model_rounds.c.confirmed_at.is_(None))
                        .values(confirmed_by=actor, confirmed_at=at))
    if done.rowcount != 1:      # another confirmation won the race since _open read the round
        raise RoundConflict(f"the {year} round is confirmed already")
    conn.execute(model_titles.insert(), [
        {"year": year, "unit_id": standing.unit_id, "awarded_by": actor, "awarded_at": at, "withdrawn_in": None,
         "withdrawn_by": None, "withdrawn_at": None, "withdrawal_reason": None} for standing in chosen])
    awarded = titles_of(conn, year)
    return [awarded[standing.unit_id] for standing in chosen]


def withdraw(conn: Connection, year: int, unit_id: str, reason: str, figures: Ranking, actor: str) -> Title:
    """Withdraw last year's title of a holder that falls short this year, with the reason; the award stays."""
    reason = _text("reason", reason, required=True)
    _require_unit(conn, unit_id)
    held = titles_of(conn, year - 1).get(unit_id)
    if held is None:
        raise BadInput(f"unit {unit_id} holds no title of the {year - 1} round")
    if held.withdrawn_in is not None:
        raise RoundConflict(f"unit {unit_id}'s {year - 1} title was withdrawn in {held.withdrawn_in} already")
    if unit_id not in {standing.unit_id for standing in candidates(conn, year, figures).shortfalls}:
        raise BadInput(f"unit {unit_id} does not fall short in the {year} round: its title stands")
    _ensure(conn, year)         # withdrawn_in names a round that exists
    done = conn.execute(update(model_titles).where(model_titles.c.year == year - 1, model_titles.c.unit_id == unit_id,
                                                   model_titles.c.withdrawn_in.is_(None))
                        .values(withdrawn_in=year, withdrawn_by=actor, withdrawn_at=now_text(),
                                withdrawal_reason=reason))
    if done.rowcount != 1:
        raise RoundConflict(f"unit {unit_id}'s {year - 1} title was withdrawn already")
    return titles_of(conn, year - 1)[unit_id]
