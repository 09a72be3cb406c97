"""What the staff scores screen shows, computed once per refresh. No Kivy.

The screen is read-only: it copies a `ScoresModel` onto labels and charts
(kiosk.ui.charts), so every figure, label and colour is tested without a
window. Days are local days in the unit's time zone, as in `evaluator summary`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kiosk.config import Locale, Settings
from kiosk.rating import scoring
from kiosk.rating.scoring import DayPoint, StaffRow
from kiosk.screens.texts import Voice
from kiosk.store import RatingStore
from kiosk.store.outbox import Outbox
from kiosk.store.status import read_sync_status
from kiosk.store.sync_state import enrolled_server

Rgba = tuple[float, float, float, float]

say = Voice("scores")


def rate_text(rate: float | None) -> str:
    """"92.3 %", or a dash when there is nothing to judge (never "0 %": no ratings is not bad ratings)."""
    return "—" if rate is None else f"{rate * 100:.1f} %"


@dataclass(frozen=True)
class LevelCount:
    level: int
    label: str
    rgba: Rgba
    count: int
    bad: bool


@dataclass(frozen=True)
class BadReview:
    time: str                    # local HH:MM
    level: int
    level_label: str
    rgba: Rgba
    reasons: tuple[str, ...]     # labels in the locale; empty when the citizen chose none
    staff_name: str


@dataclass(frozen=True)
class StaffLine:
    staff_id: str | None
    name: str                    # roster name in the locale; the bare id when the roster lacks it
    total: int
    by_level: dict[int, int]
    good_rate: float | None
    good_rate_text: str
    bad: int
    unrated: int
    highlighted: bool            # the staff member signed in on this screen


@dataclass(frozen=True)
class SyncInfo:
    configured: bool             # a centre is set; without one the queue only grows
    queue_depth: int             # ratings not yet acknowledged by the centre
    oldest_pending_at: str | None
    last_success_at: datetime | None   # in the unit's zone
    last_success_text: str


@dataclass(frozen=True)
class ScoresModel:
    date: date
    total: int
    by_level: tuple[LevelCount, ...]   # best level first
    good_rate: float | None
    good_rate_text: str
    target: float
    target_text: str
    meets_target: bool | None          # None: no ratings yet today, nothing to judge
    bad_total: int
    bad_reviews: tuple[BadReview, ...]  # newest first, at most `bad_limit`
    reason_counts: tuple[tuple[str, int], ...]   # reason label, count; most frequent first
    unrated: int
    suppressed: int
    staff: tuple[StaffLine, ...]
    trend: tuple[DayPoint, ...]        # oldest first; good_rate None on days without ratings
    sync: SyncInfo
    texts: dict[str, str]              # every "scores" text of the catalog in the locale, by name


def build_scores(settings: Settings, store: RatingStore, locale: Locale, signed_in: str | None,
                 today: date | None = None, *, target: float = 0.8, trend_days: int = 30,
                 bad_limit: int = 50) -> ScoresModel:
    """Everything the staff scores screen shows for `today` (default: today in the unit's zone)."""
    zone, bad_levels = settings.unit.zone, settings.bad_levels
    day = today or scoring.today(zone)
    summary = scoring.summarize_day(store, day, zone, bad_levels)
    levels = tuple(LevelCount(level=lv.level, label=lv.label(locale), rgba=lv.rgba,
                              count=summary.by_level.get(lv.level, 0), bad=lv.level in bad_levels)
                   for lv in sorted(settings.levels, key=lambda lv: -lv.level))
    reason_labels = {reason.code: reason.label(locale) for reason in settings.bad_reasons}
    return ScoresModel(
        date=day,
        total=summary.total,
        by_level=levels,
        good_rate=summary.good_rate,
        good_rate_text=rate_text(summary.good_rate),
        target=target,
        target_text=f"{target * 100:.0f} %",
        meets_target=None if summary.good_rate is None else summary.good_rate >= target,
        bad_total=sum(level.count for level in levels if level.bad),
        bad_reviews=_bad_reviews(settings, store, locale, day, reason_labels, bad_limit),
        reason_counts=tuple((reason_labels.get(code, code), count) for code, count
                            in sorted(summary.bad_reasons.items(), key=lambda item: (-item[1], item[0]))),
        unrated=summary.unrated,
        suppressed=summary.suppressed,
        staff=_staff_lines(settings, scoring.staff_table(store, day, zone, bad_levels), locale, signed_in),
        trend=tuple(scoring.trend(store, day, trend_days, zone, bad_levels)),
        sync=_sync(settings, store, locale, zone),
        texts={name: say(name, locale, days=trend_days) for name in say.names()},
    )


def staff_name(settings: Settings, staff_id: str | None, locale: Locale) -> str:
    if staff_id is None:
        return say("no_staff", locale)
    member = settings.staff_member(staff_id)
    if member is None:   # the counter PC may sign in an id the roster does not know yet
        return staff_id
    return member.name_en if locale is Locale.EN and member.name_en else member.name


def _staff_lines(settings: Settings, rows: list[StaffRow], locale: Locale,
                 signed_in: str | None) -> tuple[StaffLine, ...]:
    if signed_in is not None and all(row.staff_id != signed_in for row in rows):
        # The signed-in member looks for their own line first: show it, at zero, rather than nothing.
        rows = [StaffRow(signed_in, dict.fromkeys(scoring.LEVELS, 0), None, 0, 0), *rows]
    return tuple(StaffLine(staff_id=row.staff_id, name=staff_name(settings, row.staff_id, locale), total=row.total,
                           by_level=dict(row.by_level), good_rate=row.good_rate,
                           good_rate_text=rate_text(row.good_rate), bad=row.bad, unrated=row.unrated,
                           highlighted=signed_in is not None and row.staff_id == signed_in)
                 for row in rows)


def _bad_reviews(settings: Settings, store: RatingStore, locale: Locale, day: date,
                 reason_labels: dict[str, str], limit: int) -> tuple[BadReview, ...]:
    zone = settings.unit.zone
    found = store.ratings_with_reasons(*scoring.day_bounds(day, zone), sorted(settings.bad_levels), limit)
    reviews = []
    for row in found:
        level = settings.level(row["level"])
        reviews.append(BadReview(
            time=datetime.fromisoformat(row["recorded_at"]).astimezone(zone).strftime("%H:%M"),
            level=level.level, level_label=level.label(locale), rgba=level.rgba,
            reasons=tuple(reason_labels.get(code, code) for code in row["reasons"]),
            staff_name=staff_name(settings, row["staff_id"], locale)))
    return tuple(reviews)


def _sync(settings: Settings, store: RatingStore, locale: Locale, zone: ZoneInfo) -> SyncInfo:
    depth = Outbox(store).depth()
    raw = read_sync_status(settings.sync.state_dir).get("last_success_at")
    try:
        last = datetime.fromisoformat(raw).astimezone(zone) if raw else None
    except (TypeError, ValueError):   # a file from another release, or half-written: say "never", not crash
        last = None
    # The server this terminal is enrolled with now (enrolling on the screen needs no restart to show here).
    configured = (enrolled_server(settings.sync.state_dir) or settings.sync.server) is not None
    shown = last.strftime("%m-%d %H:%M") if last is not None else say("never" if configured else "no_sync", locale)
    return SyncInfo(configured=configured, queue_depth=depth.ratings, oldest_pending_at=depth.oldest_rating_at,
                    last_success_at=last, last_success_text=shown)
