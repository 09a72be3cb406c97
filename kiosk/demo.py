"""Demo data for `evaluator snapshot`: what each screen looks like, without touching a store.

The views here are only drawn, never stored: snapshots cannot add a rating.
"""
from __future__ import annotations

from kiosk.config import Mode, Settings, StaffMember
from kiosk.models import Channel
from kiosk.presenter import ScreenName
from kiosk.service import Request, State, View
from kiosk.store import StoredRating

DEMO_STAFF = StaffMember(id="E1023", name="李明", name_en="Li Ming", post="综合受理窗口", post_en="General services")


def demo_settings(settings: Settings) -> Settings:
    """The configured terminal, with a staff member signed in so the card shows."""
    if settings.counter.staff_id is not None:
        return settings
    staff = settings.staff or (DEMO_STAFF,)
    counter = settings.counter.model_copy(update={"staff_id": staff[0].id})
    return settings.model_copy(update={"staff": staff, "counter": counter})


def _rating(level: int) -> StoredRating:
    return StoredRating(uuid="00000000-0000-4000-8000-000000000000", seq=1, level=level, channel=Channel.TOUCH,
                        mode=Mode.OPEN.value, staff_id=DEMO_STAFF.id, case_no=None,
                        recorded_at="2026-11-25T02:00:00.000000+00:00", clock_suspect=False, hash="0" * 64)


def demo_view(screen: ScreenName, settings: Settings) -> View:
    staff = settings.counter.staff_id
    if screen is ScreenName.RATING:
        return View(state=State.AWAITING, mode=settings.mode, accepting=True, staff_id=staff,
                    request=Request(case_no="2026A-0042", staff_id=None, source="counter"))
    if screen is ScreenName.WAITING:
        return View(state=State.IDLE, mode=Mode.SOLICITED, accepting=False, staff_id=staff)
    if screen is ScreenName.REASONS:
        worst = min(settings.bad_levels or {1})
        first = frozenset({settings.bad_reasons[0].code}) if settings.bad_reasons else frozenset()
        return View(state=State.REASONS, mode=settings.mode, accepting=False, staff_id=staff,
                    rating=_rating(worst), selected_reasons=first)
    if screen is ScreenName.THANKS:
        return View(state=State.THANKS, mode=settings.mode, accepting=False, staff_id=staff, rating=_rating(5))
    if screen is ScreenName.OUT_OF_SERVICE:
        return View(state=State.OUT_OF_SERVICE, mode=settings.mode, accepting=False, staff_id=staff,
                    error="var/evaluator.db: database or disk is full")
    raise ValueError(f"no demo for screen {screen}")
