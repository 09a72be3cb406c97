"""What an alert says: the e-mail's subject and text and the webhook's JSON, Chinese first, English below.

Built when the alert is queued and stored in its row (alert_deliveries.payload), so delivery needs no database
read and a retry sends exactly what the first attempt did. Never a phone number, nor anything that names the
citizen: the unit reviewed reads these.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from centre.alerts.model import AlertKind
from contract import iso_utc

LEVELS = {1: ("非常不满意", "very dissatisfied"), 2: ("不满意", "dissatisfied"), 3: ("基本满意", "fairly satisfied"),
          4: ("满意", "satisfied"), 5: ("非常满意", "very satisfied")}
# The terminal's reason codes (the console's texts name them too: centre/console/texts/drill.yaml); a code not
# known here is shown as it is.
REASONS = {"attitude": ("服务态度差", "unfriendly service"), "slow": ("办理效率低", "too slow"),
           "wait": ("等候时间长", "long wait"), "unclear": ("告知不清楚", "unclear guidance"),
           "extra_trips": ("多次跑腿", "had to come back again"), "environment": ("环境设施差", "poor facilities")}
SUBJECT_PREFIX = "【满意度评价】"


@dataclass(frozen=True)
class CaseAlert:
    """One case as an alert tells it: just opened, or just joined by a complaint or a call-back request."""

    kind: AlertKind     # what happened: a bad review, a complaint or a call-back request (the case's news)
    joined: bool        # the case was open already: the complaint or call-back joined it
    case_id: int
    unit_id: str
    unit_name: str
    counter_id: str
    counter_name: str
    level: int
    reasons: tuple[str, ...]
    opened_at: datetime
    contact_due_at: datetime | None
    rectify_due_at: datetime
    link: str
    timezone: str


@dataclass(frozen=True)
class _Words:
    """What an alert of one kind calls itself (subject, webhook text) and its first line, Chinese and English:
    the lines take {unit}, {unit_id}, {counter}, {level} and {case}."""

    title_zh: str
    title_en: str
    lead_zh: str
    lead_en: str


# (kind, joined) → its words. A complaint's text is never in the alert: it is the citizen's own words, which
# may name them; the unit reads it in the case, where the console shows it with digits masked.
_WORDS = {
    (AlertKind.BAD_REVIEW, False): _Words(
        "差评工单", "Bad review", "{unit}（{unit_id}）{counter} 窗口收到一条差评：{level}。",
        "{unit} ({unit_id}), counter {counter}: a bad review, {level}."),
    (AlertKind.COMPLAINT, False): _Words(
        "投诉工单", "Complaint", "{unit}（{unit_id}）{counter} 窗口的一条评价（{level}）收到群众投诉，已开立工单。"
        "投诉内容请在工单中查看。",
        "{unit} ({unit_id}), counter {counter}: a citizen complained about a rating ({level}); a case is open. "
        "Read the complaint in the case."),
    (AlertKind.COMPLAINT, True): _Words(
        "投诉并入工单", "Complaint on case", "{unit}（{unit_id}）{counter} 窗口的一条评价（{level}）收到群众投诉，"
        "已并入该评价的工单 #{case}。投诉内容请在工单中查看。",
        "{unit} ({unit_id}), counter {counter}: a citizen complained about a rating ({level}); the complaint "
        "joined its case #{case}. Read it in the case."),
    (AlertKind.CALLBACK, False): _Words(
        "回访工单", "Call-back", "{unit}（{unit_id}）{counter} 窗口的一条评价（{level}）的评价人留下电话，要求回访，"
        "已开立工单。",
        "{unit} ({unit_id}), counter {counter}: the citizen who gave a rating ({level}) left a number and asks "
        "for a call-back; a case is open."),
    (AlertKind.CALLBACK, True): _Words(
        "回访请求", "Call-back request", "{unit}（{unit_id}）{counter} 窗口的一条评价（{level}）的评价人留下电话，"
        "要求回访：工单 #{case} 的回访期限自现在起计算。",
        "{unit} ({unit_id}), counter {counter}: the citizen who gave a rating ({level}) left a number and asks "
        "for a call-back: case #{case}'s call-back deadline runs from now."),
}


# The first words of the webhook's text, which a messaging robot shows as it is.
ROBOT_ZH = {AlertKind.BAD_REVIEW: "差评提醒", AlertKind.COMPLAINT: "投诉提醒", AlertKind.CALLBACK: "回访提醒"}


def local_text(moment: datetime | None, timezone: str) -> str:
    """`moment` as the unit's wall clock reads it, e.g. 2024-05-06 09:41 (+08:00)."""
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} ({offset[:3]}:{offset[3:]})"


def _reasons(codes: Sequence[str], language: int) -> str:
    if not codes:
        return "未选择原因" if language == 0 else "none given"
    return ("、" if language == 0 else ", ").join(REASONS.get(code, (code, code))[language] for code in codes)


def _leads(alert: CaseAlert) -> tuple[_Words, str, str]:
    """The alert's words, and its first line in Chinese and in English."""
    words = _WORDS[alert.kind, alert.joined]
    zh_level, en_level = LEVELS.get(alert.level, (str(alert.level), str(alert.level)))
    fields = {"unit": alert.unit_name, "unit_id": alert.unit_id, "counter": alert.counter_name,
              "case": alert.case_id}
    return words, words.lead_zh.format(level=zh_level, **fields), words.lead_en.format(level=en_level, **fields)


def case_email(alert: CaseAlert) -> dict[str, str]:
    """{"subject", "text"}: what the unit's duty manager reads."""
    words, lead_zh, lead_en = _leads(alert)
    zh_level = LEVELS.get(alert.level, (str(alert.level),))[0]
    when = local_text(alert.opened_at, alert.timezone)
    contact = local_text(alert.contact_due_at, alert.timezone)
    rectify = local_text(alert.rectify_due_at, alert.timezone)
    subject = (f"{SUBJECT_PREFIX}{words.title_zh} #{alert.case_id}：{alert.unit_name} {alert.counter_name}"
               f"（{zh_level}） / {words.title_en}, case #{alert.case_id}")
    text = "\n".join([
        lead_zh,
        f"{'差评原因' if alert.level <= 2 else '评价原因'}：{_reasons(alert.reasons, 0)}",
        f"工单开立时间：{when}",
        f"回访期限：{contact}" if alert.contact_due_at else "回访期限：群众未留电话，无需回访",
        f"整改期限：{rectify}",
        f"工单：{alert.link}",
        "",
        "请在期限内核实情况、整改并上报。评价人信息不向被评价单位提供。",
        "",
        "—",
        lead_en,
        f"Reasons: {_reasons(alert.reasons, 1)}",
        f"Case opened: {when}",
        f"Call-back due: {contact}" if alert.contact_due_at else "Call-back: the citizen left no number",
        f"Rectification due: {rectify}",
        f"Case: {alert.link}",
        "",
        "Please look into it, rectify and report within the deadlines. Who rated is never told to the unit.",
    ])
    return {"subject": subject, "text": text}


def case_webhook(alert: CaseAlert) -> dict[str, Any]:
    """The webhook's JSON: the facts as fields, and a `text` a messaging robot can show as it is."""
    words = _WORDS[alert.kind, alert.joined]
    zh_level, en_level = LEVELS.get(alert.level, (str(alert.level), str(alert.level)))
    due = f"回访期限 {local_text(alert.contact_due_at, alert.timezone)}，" if alert.contact_due_at else ""
    text = (f"{ROBOT_ZH[alert.kind]}：{alert.unit_name} {alert.counter_name}，{zh_level}，原因："
            f"{_reasons(alert.reasons, 0)}；{due}整改期限 {local_text(alert.rectify_due_at, alert.timezone)}。"
            f"工单 #{alert.case_id} {alert.link}\n"
            f"{words.title_en}: {alert.unit_name}, counter {alert.counter_name}, {en_level}; case #{alert.case_id}")
    return {
        "event": alert.kind.value, "joined": alert.joined, "case_id": alert.case_id, "unit_id": alert.unit_id,
        "unit_name": alert.unit_name, "counter_id": alert.counter_id, "counter_name": alert.counter_name,
        "level": alert.level, "reasons": list(alert.reasons), "opened_at": iso_utc(alert.opened_at),
        "contact_due_at": iso_utc(alert.contact_due_at) if alert.contact_due_at else None,
        "rectify_due_at": iso_utc(alert.rectify_due_at), "link": alert.link, "text": text,
    }


@dataclass(frozen=True)
class DigestLine:
    """One case in a digest: which deadline, when, and whether it is already past."""

    case_id: int
    unit_name: str
    counter_name: str
    level: int
    deadline: str          # "contact" or "rectify"
    due_at: datetime
    overdue: bool
    link: str
    timezone: str


def digest_email(title_zh: str, title_en: str, day: str, lines: Sequence[DigestLine],
                 max_lines: int) -> dict[str, str]:
    """{"subject", "text"} of a day's digest for a unit, a district or the city: the totals, and the first
    `max_lines` cases listed (the most urgent first)."""
    overdue = sum(line.overdue for line in lines)
    near = len(lines) - overdue
    shown, more = lines[:max_lines], max(0, len(lines) - max_lines)
    subject = (f"{SUBJECT_PREFIX}{title_zh} {day} 工单期限提醒：逾期 {overdue}，临近 {near}"
               f" / Case deadlines, {day}: {overdue} overdue, {near} due soon")
    deadline_zh = {"contact": "回访", "rectify": "整改"}
    body = [f"{title_zh}：截至 {day}，逾期工单 {overdue} 件，临近期限 {near} 件。", ""]
    for line in shown:
        state = "已逾期" if line.overdue else "临近"
        body.append(f"#{line.case_id} {line.unit_name} {line.counter_name} {LEVELS.get(line.level, ('',))[0]} "
                    f"{deadline_zh.get(line.deadline, line.deadline)}期限 {local_text(line.due_at, line.timezone)}"
                    f" {state} {line.link}")
    body.append(f"……另有 {more} 件未列出，请在控制台查看。" if more
                else "" if lines else "今日无逾期或临近期限的工单。")
    body += ["—", f"{title_en}: {overdue} case(s) overdue and {near} due soon on {day}.", ""]
    for line in shown:
        state = "OVERDUE" if line.overdue else "due soon"
        body.append(f"#{line.case_id} {line.unit_name}, counter {line.counter_name}: {line.deadline} due "
                    f"{local_text(line.due_at, line.timezone)}, {state} {line.link}")
    if more or not lines:
        body.append(f"… and {more} more: see the console." if more else "No case is overdue or due soon today.")
    return {"subject": subject, "text": "\n".join(body)}


WEBHOOK_LINES = 10   # a robot's message stays short: the most urgent cases, then the count of the rest


def digest_webhook(day: str, lines: Sequence[DigestLine], max_lines: int) -> dict[str, Any]:
    """The city's digest as the webhook's JSON: the totals, the first `max_lines` cases as fields (the most urgent
    first), and a short `text` a messaging robot can show as it is."""
    overdue = sum(line.overdue for line in lines)
    near = len(lines) - overdue
    deadline_zh = {"contact": "回访", "rectify": "整改"}
    shown = [f"#{line.case_id} {line.unit_name} {line.counter_name} {deadline_zh.get(line.deadline, line.deadline)}"
             f"{'已逾期' if line.overdue else '临近'} {local_text(line.due_at, line.timezone)}"
             for line in lines[:WEBHOOK_LINES]]
    more = len(lines) - len(shown)
    text = "\n".join([f"工单期限提醒 {day}：逾期 {overdue} 件，临近 {near} 件。" if lines
                      else f"工单期限提醒 {day}：今日无逾期或临近期限的工单。", *shown,
                      *([f"……另有 {more} 件，请在控制台查看。"] if more else []),
                      f"Case deadlines {day}: {overdue} overdue, {near} due soon."])
    return {"event": "digest", "day": day, "overdue": overdue, "near": near, "text": text,
            "cases": [{"case_id": line.case_id, "unit_name": line.unit_name, "counter_name": line.counter_name,
                       "level": line.level, "deadline": line.deadline, "due_at": iso_utc(line.due_at),
                       "overdue": line.overdue, "link": line.link} for line in lines[:max_lines]],
            "more": max(0, len(lines) - max_lines)}
