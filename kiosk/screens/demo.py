"""Demo data for `evaluator snapshot`: what each screen looks like, without touching a store.

The views here are only drawn, never stored: snapshots cannot add a rating.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Protocol

from contract import receipt_url
from kiosk.config import Mode, Settings, StaffMember
from kiosk.rating.service import Request, State, View
from kiosk.screens.presenter import ScreenName
from kiosk.store import Identity, RatingStore, StoredRating
from kiosk.store.tables import Channel, EventKind

DEMO_STAFF = StaffMember(id="E1023", name="李明", name_en="Li Ming", post="综合受理窗口", post_en="General services")


DEMO_QUESTIONNAIRE = "https://zwfw.example.gov.cn/yijian?unit=unit-0001"
DEMO_COMPLAINT = "https://pingjia.example.gov.cn/c"     # the centre's pages, as an enrolled terminal gets them
DEMO_RECEIPT = "https://pingjia.example.gov.cn/r"

# Snapshot names beyond one per screen: a state of a screen that looks different enough to have its own.
BAD_THANKS = "thanks_bad"          # the thanks after a bad review, with the complaint QR code
RECEIPT_THANKS = "thanks_receipt"  # the same on an enrolled terminal: one code, the receipt with the complaint
SNAPSHOTS: tuple[str, ...] = (*(screen.value for screen in ScreenName), BAD_THANKS, RECEIPT_THANKS)
_RECEIPT_UUID = "00000000-0000-4000-8000-000000000001"   # the receipt snapshot's rating


def snapshot_screen(name: str) -> ScreenName:
    """The screen a snapshot name draws; ValueError for a name that is not in SNAPSHOTS."""
    return ScreenName.THANKS if name in (BAD_THANKS, RECEIPT_THANKS) else ScreenName(name)


def demo_receipt_link(rating_uuid: str) -> str | None:
    """The demo's receipt signer (kiosk.screens.presenter.ReceiptLink): it signs the receipt snapshot's rating
    only, with a made-up device key, so `thanks_bad` still shows what a terminal not enrolled shows (the
    complaint page) and `thanks_receipt` what an enrolled one shows."""
    return receipt_url(DEMO_RECEIPT, "demo-secret", "dev-demo", rating_uuid) if rating_uuid == _RECEIPT_UUID \
        else None


def demo_settings(settings: Settings) -> Settings:
    """The configured terminal, with a staff member signed in so the card shows, and the citizen's links set
    (the questionnaire QR on the waiting screen, the complaint and receipt QR after a bad review) where the config
    has none."""
    links = {key: url for key, url in (("questionnaire_url", DEMO_QUESTIONNAIRE), ("complaint_url", DEMO_COMPLAINT),
                                       ("receipt_url", DEMO_RECEIPT))
             if getattr(settings.citizen, key) is None}
    if links:
        settings = settings.model_copy(update={"citizen": settings.citizen.model_copy(update=links)})
    if settings.counter.staff_id is not None:
        return settings
    staff = settings.staff or (DEMO_STAFF,)
    counter = settings.counter.model_copy(update={"staff_id": staff[0].id})
    return settings.model_copy(update={"staff": staff, "counter": counter})


def _rating(level: int, uuid: str = "00000000-0000-4000-8000-000000000000") -> StoredRating:
    return StoredRating(uuid=uuid, seq=1, level=level, channel=Channel.TOUCH,
                        mode=Mode.OPEN.value, staff_id=DEMO_STAFF.id, case_no=None,
                        recorded_at="2026-11-25T02:00:00.000000+00:00", clock_suspect=False, hash="0" * 64)


def demo_view(screen: ScreenName | str, settings: Settings) -> View:
    """What `screen` (a ScreenName or a name in SNAPSHOTS) shows in the demo."""
    staff = settings.counter.staff_id
    worst = min(settings.bad_levels or {1})
    if screen == BAD_THANKS:
        return View(state=State.THANKS, mode=settings.mode, accepting=False, staff_id=staff, rating=_rating(worst))
    if screen == RECEIPT_THANKS:
        return View(state=State.THANKS, mode=settings.mode, accepting=False, staff_id=staff,
                    rating=_rating(worst, _RECEIPT_UUID))
    screen = ScreenName(screen)
    if screen is ScreenName.RATING:
        return View(state=State.AWAITING, mode=settings.mode, accepting=True, staff_id=staff,
                    request=Request(case_no="2026A-0042", staff_id=None, source="counter"))
    if screen is ScreenName.WAITING:
        return View(state=State.IDLE, mode=Mode.SOLICITED, accepting=False, staff_id=staff)
    if screen is ScreenName.ATTRACT:     # open mode, ready, no request: what turns into the attract screen
        return View(state=State.AWAITING, mode=Mode.OPEN, accepting=True, staff_id=staff)
    if screen is ScreenName.REASONS:
        first = frozenset({settings.bad_reasons[0].code}) if settings.bad_reasons else frozenset()
        return View(state=State.REASONS, mode=settings.mode, accepting=False, staff_id=staff,
                    rating=_rating(worst), selected_reasons=first)
    if screen is ScreenName.CALLBACK:
        return View(state=State.CALLBACK, mode=settings.mode, accepting=False, staff_id=staff,
                    rating=_rating(worst))
    if screen is ScreenName.THANKS:
        return View(state=State.THANKS, mode=settings.mode, accepting=False, staff_id=staff, rating=_rating(5))
    if screen is ScreenName.OUT_OF_SERVICE:
        return View(state=State.OUT_OF_SERVICE, mode=settings.mode, accepting=False, staff_id=staff,
                    error="var/evaluator.db: database or disk is full")
    raise ValueError(f"no demo for screen {screen}")


class DemoShown(Protocol):
    """What `show_demo` draws on: kiosk.ui's RatingUi, which this layer may not import."""

    def show(self, view: View) -> None: ...
    def attract_now(self) -> None: ...


def show_demo(ui: DemoShown, screen: ScreenName | str, settings: Settings) -> None:
    """Draw the demo view of `screen` (a ScreenName or a name in SNAPSHOTS) on a kiosk.ui.app.RatingUi; the
    attract screen is its view left untouched."""
    ui.show(demo_view(screen, settings))
    if screen == ScreenName.ATTRACT:
        ui.attract_now()


DEMO_TEAM = (DEMO_STAFF,
             StaffMember(id="E1088", name="王芳", name_en="Wang Fang", post="社保窗口", post_en="Social insurance"),
             StaffMember(id="E2051", name="张伟", name_en="Zhang Wei", post="不动产窗口", post_en="Real estate"))
# A plausible month: mostly good, a few bad reviews with reasons, one weak day.
_DAY_PATTERN = (5, 5, 4, 5, 3, 5, 4, 5, 2, 5, 4, 5, 1, 5)


def demo_team_settings(settings: Settings) -> Settings:
    """A counter with three staff, the first signed in: what the staff screens show in snapshots."""
    staff = settings.staff if len(settings.staff) >= 2 else DEMO_TEAM
    counter = settings.counter.model_copy(update={"staff_id": staff[0].id})
    return settings.model_copy(update={"staff": staff, "counter": counter})


def fill_demo_store(settings: Settings, path: Path, today: datetime) -> RatingStore:
    """A throwaway store with 30 days of ratings, for snapshots of the staff scores only.

    It lives in a temporary folder, never at `store.path`: snapshots cannot add a rating to a terminal.
    """
    now = [today]
    store = RatingStore(path, Identity(settings.device.id, settings.unit.id, settings.counter.id),
                        clock=lambda: now[0])
    reasons = [reason.code for reason in settings.bad_reasons]
    team = [member.id for member in settings.staff]
    zone = settings.unit.zone
    for day in range(29, -1, -1):
        opening = datetime.combine((today.astimezone(zone) - timedelta(days=day)).date(), time(9), tzinfo=zone)
        count = 14 if day == 0 else 4 + (day * 7) % 9
        for i in range(count):
            now[0] = (opening + timedelta(minutes=17 * i)).astimezone(UTC)
            level = 2 if day == 9 and i % 2 else _DAY_PATTERN[(day + i) % len(_DAY_PATTERN)]  # one weak day
            rating = store.append_rating(level, Channel.TOUCH, settings.mode.value, staff_id=team[i % len(team)])
            if level in settings.bad_levels and reasons:
                store.add_reasons(rating.uuid, [reasons[(day + i) % len(reasons)]])
    store.record_event(EventKind.UNRATED, case_no="2026A-0040", staff_id=team[0], source="counter")
    return store
