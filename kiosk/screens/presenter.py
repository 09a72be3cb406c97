"""What each screen says and shows for a service View, in one locale. No Kivy.

The widgets only copy these values onto labels and buttons, so wording,
colours and which staff card to show are tested without a window.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kiosk.config import Locale, Mode, ReceiptAfter, Settings
from kiosk.config.provisioning import centre_links
from kiosk.rating.service import State, View
from kiosk.screens import hours
from kiosk.screens.photos import PhotoChecker
from kiosk.screens.texts import say


class ScreenName(str, enum.Enum):
    RATING = "rating"
    WAITING = "waiting"
    ATTRACT = "attract"          # open mode, untouched for ui.attract_after_s: the waiting screen's content
    REASONS = "reasons"
    CALLBACK = "callback"        # a phone number for a call-back, after the reasons
    THANKS = "thanks"
    OUT_OF_SERVICE = "out_of_service"
    SIGN_IN = "sign_in"          # staff screens, behind the hidden corner
    SCORES = "scores"
    TECHNICIAN = "technician"
    PROVISION = "provision"


SCREEN_FOR_STATE = {
    State.AWAITING: ScreenName.RATING,
    State.IDLE: ScreenName.WAITING,
    State.REASONS: ScreenName.REASONS,
    State.CALLBACK: ScreenName.CALLBACK,
    State.THANKS: ScreenName.THANKS,
    State.OUT_OF_SERVICE: ScreenName.OUT_OF_SERVICE,
}

@dataclass(frozen=True)
class LevelButtonModel:
    level: int
    label: str
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True)
class ReasonModel:
    code: str
    label: str
    selected: bool


@dataclass(frozen=True)
class ScreenModel:
    screen: ScreenName
    unit: str
    counter: str
    staff_name: str
    staff_line: str            # 工号 and post; empty when nobody is signed in
    staff_photo: str           # a photo file for the card; empty = the neutral silhouette
    title: str
    subtitle: str
    levels: tuple[LevelButtonModel, ...]
    accepting: bool
    reasons: tuple[ReasonModel, ...]
    rated_level: LevelButtonModel | None
    detail: str                # the error on the out-of-service screen
    rated_caption: str         # "您的评价：满意" on the thanks screen
    solicit_label: str
    submit_label: str
    skip_label: str
    language_label: str = ""   # the button that switches to the other language, named in that language
    qr_payload: str = ""       # a link for the citizen's phone; empty = no QR code
    qr_caption: str = ""
    hours: hours.HoursModel | None = None   # opening hours, on the waiting screen
    callback_label: str = ""   # the reasons screen's call-back button; empty = not offered


ComplaintLink = Callable[[str], str | None]   # rating uuid → signed complaint URL
ReceiptLink = Callable[[str], str | None]     # rating uuid → signed receipt URL; None before enrollment

# The screens that show the unit's opening hours and the questionnaire QR: the two faces of "waiting".
_WAITING_SCREENS = (ScreenName.WAITING, ScreenName.ATTRACT)


def waits_for_nobody(view: View) -> bool:
    """Open mode's rating screen with no request open: ready for whoever comes, asking nobody in particular.
    Only such a view turns into the attract screen when left untouched (and it may dim)."""
    return view.state is State.AWAITING and view.mode is Mode.OPEN and view.request is None


def shows_complaint_qr(settings: Settings, view: View) -> bool:
    """The thanks after a bad review, with a complaint page configured: its screen shows the complaint QR code."""
    return view.state is State.THANKS and view.rating is not None and bool(settings.citizen.complaint_url) \
        and view.rating.level in settings.bad_levels


def shows_receipt_qr(settings: Settings, view: View) -> bool:
    """The thanks after a rating `citizen.receipt_after` asks a receipt for, with a receipt page configured."""
    if view.state is not State.THANKS or view.rating is None or not settings.citizen.receipt_url:
        return False
    after = settings.citizen.receipt_after
    return after is ReceiptAfter.EVERY or (after is ReceiptAfter.BAD and view.rating.level in settings.bad_levels)


def shows_thanks_qr(settings: Settings, view: View) -> bool:
    """The thanks shows a QR code for the citizen's phone (complaint or receipt): kept up to be scanned."""
    return shows_complaint_qr(settings, view) or shows_receipt_qr(settings, view)


def _same_origin(first: str, second: str) -> bool:
    one, other = urlsplit(first), urlsplit(second)
    return (one.scheme.lower(), one.netloc.lower()) == (other.scheme.lower(), other.netloc.lower())


class Presenter:
    def __init__(self, settings: Settings, complaint_link: ComplaintLink | None = None,
                 now: Callable[[], dt.datetime] | None = None, receipt_link: ReceiptLink | None = None):
        """`complaint_link`, `receipt_link`: sign the complaint and receipt URLs for a rating (evaluator.terminal
        builds them from the device key); `now`: the unit's wall clock, for "open now" (tests pass their own)."""
        self._settings = settings
        self._complaint_link = complaint_link
        self._receipt_link = receipt_link
        self._photos = PhotoChecker()
        self.now = now or (lambda: dt.datetime.now(settings.unit.zone))

    def present(self, view: View, locale: Locale, attract: bool = False) -> ScreenModel:
        """`attract`: the UI's idle time has run out, so a view that `waits_for_nobody` shows as the attract
        screen; any other view shows as itself (the service's view always wins)."""
        settings = self._settings
        screen = ScreenName.ATTRACT if attract and waits_for_nobody(view) else SCREEN_FOR_STATE[view.state]
        title, subtitle = self._headline(screen, view, locale)
        staff_name, staff_line, staff_photo = self._staff(view, locale)
        rated = self._level(view.rating.level, locale) if view.rating else None
        return ScreenModel(
            screen=screen,
            unit=settings.unit.name if locale is Locale.ZH else settings.unit.name_en,
            counter=settings.counter.name if locale is Locale.ZH else settings.counter.name_en,
            staff_name=staff_name,
            staff_line=staff_line,
            staff_photo=staff_photo,
            title=title,
            subtitle=subtitle,
            levels=tuple(self._level(level.level, locale)
                         for level in sorted(settings.levels, key=lambda lv: -lv.level)),
            accepting=view.accepting,
            reasons=tuple(ReasonModel(reason.code, reason.label(locale), reason.code in view.selected_reasons)
                          for reason in settings.bad_reasons),
            rated_level=rated,
            detail=view.error or "",
            rated_caption=say("thanks.recorded_as", locale) + rated.label if rated else "",
            # 请评价 means nothing on the attract screen: the terminal is always ready, a touch returns to rating.
            solicit_label="" if screen is ScreenName.ATTRACT else say("waiting.solicit", locale),
            submit_label=say("reasons.submit", locale),
            skip_label=say("reasons.skip", locale),
            language_label="English" if locale is Locale.ZH else "中文",
            hours=hours.present(settings.unit.opening_hours, self.now(), locale)
            if screen in _WAITING_SCREENS else None,
            callback_label=say("reasons.callback", locale)
            if screen is ScreenName.REASONS and settings.citizen.callback.enabled else "",
            **self._qr(screen, view, locale),
        )

    def _qr(self, screen: ScreenName, view: View, locale: Locale) -> dict[str, str]:
        citizen = self._settings.citizen
        receipt = self._receipt(view, locale)
        if receipt is not None:
            return receipt
        # The rating and the URL are restated for the type checker: shows_complaint_qr requires both.
        if shows_complaint_qr(self._settings, view) and view.rating is not None and citizen.complaint_url:
            link = self._complaint_link(view.rating.uuid) if self._complaint_link else None
            return {"qr_payload": link or citizen.complaint_url, "qr_caption": say("thanks.qr_complaint", locale)}
        if screen in _WAITING_SCREENS:
            questionnaire = self._questionnaire_url()
            if questionnaire:
                return {"qr_payload": questionnaire, "qr_caption": say("waiting.qr_questionnaire", locale)}
        return {}

    def _questionnaire_url(self) -> str | None:
        """The centre's latest questionnaire link (its token expires: a new one arrives with the config the sync
        worker pulls, and shows here without a restart), else the one configured."""
        latest = centre_links(self._settings.sync.state_dir).get("questionnaire_url")
        return latest if isinstance(latest, str) and latest else self._settings.citizen.questionnaire_url

    def _receipt(self, view: View, locale: Locale) -> dict[str, str] | None:
        """The receipt QR code, when it applies and the terminal can sign it (enrolled). One code only, ever:
        a phone's camera shown two codes reads whichever it finds first. After a bad review, when the complaint
        page is the centre's too (the same origin as the receipt page, as an enrolled terminal's links are), the
        receipt's code stands for both: the receipt page offers the complaint form. A complaint page elsewhere
        (the city's 12345 site) keeps its own code: the complaint comes first after a bad review."""
        settings, citizen = self._settings, self._settings.citizen
        if not shows_receipt_qr(settings, view) or view.rating is None or not citizen.receipt_url:
            return None
        link = self._receipt_link(view.rating.uuid) if self._receipt_link else None
        if link is None:
            return None
        complaint = shows_complaint_qr(settings, view) and citizen.complaint_url is not None
        if complaint and not _same_origin(citizen.receipt_url, citizen.complaint_url or ""):
            return None
        caption = "thanks.qr_receipt_complaint" if complaint else "thanks.qr_receipt"
        return {"qr_payload": link, "qr_caption": say(caption, locale)}

    def _level(self, value: int, locale: Locale) -> LevelButtonModel:
        level = self._settings.level(value)
        return LevelButtonModel(level=value, label=level.label(locale), rgba=level.rgba)

    def _headline(self, screen: ScreenName, view: View, locale: Locale) -> tuple[str, str]:
        if screen is ScreenName.RATING:
            case = view.request.case_no if view.request else None
            subtitle = f"{say('rating.case', locale)} {case}" if case else ""
            return say("rating.prompt" if view.accepting else "rating.cooldown", locale), subtitle
        if screen in _WAITING_SCREENS:
            hint = "waiting.hint" if screen is ScreenName.WAITING else "waiting.attract_hint"
            return say("waiting.title", locale), say(hint, locale)
        if screen is ScreenName.REASONS:
            return say("reasons.title", locale), say("reasons.prompt", locale)
        if screen is ScreenName.CALLBACK:
            return say("callback.title", locale), ""
        if screen is ScreenName.THANKS:
            if view.callback_left:
                return say("thanks.title", locale), say("thanks.callback", locale)
            bad = view.rating is not None and view.rating.level in self._settings.bad_levels
            return say("thanks.title", locale), say("thanks.bad" if bad else "thanks.good", locale)
        return say("out_of_service.title", locale), say("out_of_service.body", locale)

    def _staff(self, view: View, locale: Locale) -> tuple[str, str, str]:
        staff_id = (view.request.staff_id if view.request and view.request.staff_id else None) or view.staff_id
        if staff_id is None:
            return say("staff_card.nobody", locale), "", ""
        member = self._settings.staff_member(staff_id)
        if member is None:  # signed in by the counter PC with an id the roster does not know yet
            return staff_id, f"{say('staff_card.staff_no', locale)} {staff_id}", ""
        english = locale is Locale.EN
        name = member.name_en if english and member.name_en else member.name
        post = member.post_en if english and member.post_en else member.post
        post = f"  ·  {post}" if post else ""
        line = f"{say('staff_card.staff_no', locale)} {member.id}{post}"
        return name, line, self._photos.usable(member.id, member.photo)
