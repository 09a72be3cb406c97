"""The call-back consent a citizen ticks on the web questionnaire or the complaint form.

The terminal's consent (kiosk/config/citizen.py CallbackSettings) promises what happens on the device: the
number is erased from the terminal once it reaches the centre. On a phone there is no terminal: the number
goes straight to the centre, is seen only by the staff who call back (the caller role of the city config),
and is erased the configured number of days after its case closes (CaseSettings.erase_numbers_after_days).
So the web says that, with the same purpose and the same separation from the rating as the terminal's, and
stores its own fingerprint (`consent_version`) with each number: the office reads exactly what was agreed.
"""
from __future__ import annotations

import hashlib

from centre import cityconfig

CONSENT_ZH = ("我同意留下电话号码，由工作人员就本次评价回电联系我。号码仅用于此次回电，与评价分开保存，"
              "仅回访人员可见，在此事办结 {days} 天后删除。")
CONSENT_EN = ("I agree to leave my phone number so that staff can call me back about this rating. It is used "
              "only for this call, kept apart from the rating, seen only by the staff who call back, and "
              "erased {days} days after the matter is closed.")


def _days() -> int:
    return cityconfig.current().cases.erase_numbers_after_days


def consent(lang: str) -> str:
    """The words shown beside the tick box, with this centre's erasure delay."""
    return (CONSENT_ZH if lang == "zh" else CONSENT_EN).format(days=_days())


def consent_version() -> str:
    """The fingerprint stored with a number: both languages' words as shown, so a changed delay is a new version."""
    shown = consent("zh") + "\n" + consent("en")
    return "web-" + hashlib.sha256(shown.encode("utf-8")).hexdigest()[:12]
