"""What each screen says and shows for a service View, in one locale. No Kivy.

The widgets only copy these values onto labels and buttons, so wording,
colours and which staff card to show are tested without a window.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.config import Locale, Mode, Settings
from kiosk.rating.service import State, View
from kiosk.screens import callback_form as callback
from kiosk.screens import hours
from kiosk.screens.photos import PhotoChecker


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

_TEXT = {
    "prompt": ("请您对本次服务进行评价", "Please rate our service"),
    "cooldown": ("感谢您的评价，请稍候…", "Thank you. One moment, please…"),
    "case": ("业务编号", "Case"),
    "waiting": ("欢迎光临", "Welcome"),
    "waiting_hint": ("办理业务后，请在此评价", "You can rate our service here after your visit"),
    "attract_hint": ("请触摸屏幕，对本次服务进行评价", "Touch the screen to rate our service"),
    "no_staff": ("暂无工作人员签到", "No staff signed in"),
    "staff_no": ("工号", "Staff No."),
    "reasons_title": ("很抱歉给您带来不好的体验", "We are sorry about your experience"),
    "reasons_prompt": ("请选择不满意的原因（可多选）", "What went wrong? (choose any)"),
    "solicit": ("请评价", "Ask for rating"),
    "submit": ("提交", "Submit"),
    "skip": ("跳过", "Skip"),
    "thanks": ("感谢您的评价！", "Thank you for your rating!"),
    "thanks_good": ("欢迎您再次光临", "We look forward to seeing you again"),
    "thanks_bad": ("我们会认真改进，谢谢您的意见", "We will act on it. Thank you for telling us"),
    "recorded_as": ("您的评价：", "Your rating: "),
    "qr_complaint": ("如需投诉，请用手机扫码", "To file a complaint, scan with your phone"),
    "qr_questionnaire": ("扫码提出意见和建议", "Scan to give us your comments"),
    "oos_title": ("评价器暂停服务", "Evaluator temporarily out of service"),
    "oos_body": ("评价暂时无法保存，请联系工作人员。恢复后将自动继续。",
                 "Ratings cannot be saved right now. Please tell a member of staff. "
                 "The terminal resumes by itself."),
}


def text(key: str, locale: Locale) -> str:
    return locale.pick(*_TEXT[key])


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


class Presenter:
    def __init__(self, settings: Settings, complaint_link: ComplaintLink | None = None,
                 now: Callable[[], dt.datetime] | None = None):
        """`complaint_link`: signs the complaint URL for a rating (evaluator.terminal builds it from the device key);
        `now`: the unit's wall clock, for "open now" (tests pass their own)."""
        self._settings = settings
        self._complaint_link = complaint_link
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
            rated_caption=text("recorded_as", locale) + rated.label if rated else "",
            # 请评价 means nothing on the attract screen: the terminal is always ready, a touch returns to rating.
            solicit_label="" if screen is ScreenName.ATTRACT else text("solicit", locale),
            submit_label=text("submit", locale),
            skip_label=text("skip", locale),
            language_label="English" if locale is Locale.ZH else "中文",
            hours=hours.present(settings.unit.opening_hours, self.now(), locale)
            if screen in _WAITING_SCREENS else None,
            callback_label=callback.say("callback", locale)
            if screen is ScreenName.REASONS and settings.citizen.callback.enabled else "",
            **self._qr(screen, view, locale),
        )

    def _qr(self, screen: ScreenName, view: View, locale: Locale) -> dict[str, str]:
        citizen = self._settings.citizen
        if shows_complaint_qr(self._settings, view):
            link = self._complaint_link(view.rating.uuid) if self._complaint_link else None
            return {"qr_payload": link or citizen.complaint_url, "qr_caption": text("qr_complaint", locale)}
        if screen in _WAITING_SCREENS and citizen.questionnaire_url:
            return {"qr_payload": citizen.questionnaire_url, "qr_caption": text("qr_questionnaire", locale)}
        return {}

    def _level(self, value: int, locale: Locale) -> LevelButtonModel:
        level = self._settings.level(value)
        return LevelButtonModel(level=value, label=level.label(locale), rgba=level.rgba)

    def _headline(self, screen: ScreenName, view: View, locale: Locale) -> tuple[str, str]:
        if screen is ScreenName.RATING:
            case = view.request.case_no if view.request else None
            subtitle = f"{text('case', locale)} {case}" if case else ""
            return text("prompt" if view.accepting else "cooldown", locale), subtitle
        if screen in _WAITING_SCREENS:
            return text("waiting", locale), text("waiting_hint" if screen is ScreenName.WAITING else "attract_hint",
                                                  locale)
        if screen is ScreenName.REASONS:
            return text("reasons_title", locale), text("reasons_prompt", locale)
        if screen is ScreenName.CALLBACK:
            return callback.say("title", locale), ""
        if screen is ScreenName.THANKS:
            if view.callback_left:
                return text("thanks", locale), callback.say("thanks_callback", locale)
            bad = view.rating is not None and view.rating.level in self._settings.bad_levels
            return text("thanks", locale), text("thanks_bad" if bad else "thanks_good", locale)
        return text("oos_title", locale), text("oos_body", locale)

    def _staff(self, view: View, locale: Locale) -> tuple[str, str, str]:
        staff_id = (view.request.staff_id if view.request and view.request.staff_id else None) or view.staff_id
        if staff_id is None:
            return text("no_staff", locale), "", ""
        member = self._settings.staff_member(staff_id)
        if member is None:  # signed in by the counter PC with an id the roster does not know yet
            return staff_id, f"{text('staff_no', locale)} {staff_id}", ""
        english = locale is Locale.EN
        name = member.name_en if english and member.name_en else member.name
        post = member.post_en if english and member.post_en else member.post
        post = f"  ·  {post}" if post else ""
        return name, f"{text('staff_no', locale)} {member.id}{post}", self._photos.usable(member.id, member.photo)


def all_texts(settings: Settings) -> str:
    """Every character the screens may draw, for checking the font covers them."""
    parts = [zh + en for zh, en in _TEXT.values()]
    parts += [zh + en for zh, en in callback._TEXT.values()]
    parts += [settings.citizen.callback.consent_zh, settings.citizen.callback.consent_en]
    parts += [level.zh + level.en for level in settings.levels]
    parts += [reason.zh + reason.en for reason in settings.bad_reasons]
    parts += [hours.all_texts()]
    parts += [settings.unit.name, settings.unit.name_en, settings.counter.name, settings.counter.name_en]
    parts += [member.name + (member.name_en or "") + member.post + (member.post_en or "")
              for member in settings.staff]
    return "".join(parts)
