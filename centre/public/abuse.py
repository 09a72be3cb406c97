"""What a citizen may send in a form, and what flags it: shared by the questionnaire and the complaint form.

Refused (a 4xx page, nothing stored): a body that is not UTF-8 (`parse_form`), HTML or script tags in a
text, control characters, a text over its length. Flagged and KEPT (`flag_of`): links, a character repeated
on and on, and the city's spam and abuse words (PublicSettings.spam_words, abuse_words). A flag is stored
with the text and shown to the office beside it; a flagged text is never dropped, because a rude or clumsy
citizen may still be telling the truth about a service.
"""
from __future__ import annotations

import re
import unicodedata
from enum import Enum
from urllib.parse import parse_qsl

from centre.errors import BadInput, CentreError
from centre.public.settings import PublicSettings

TEXT_MAX_CHARS = 500
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

# A tag as a browser would read one: <name …>, </name>, <!-- …, <!doctype, <?…, or the start of a dangerous
# one even unclosed; never a plain "a<b".
# The attributes must start as a browser's would (an ASCII name), so "价格<5 元，人数>3" is text.
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9:-]*(\s+[a-zA-Z_:][^<>]*)?\s*/?\s*>|<!--|<!\s*[a-zA-Z]|<\?"
                  r"|<\s*(script|iframe|object|embed|svg|img|style|link|meta)\b", re.I)
_SCRIPTY = re.compile(r"javascript\s*:|on[a-z]+\s*=\s*['\"]", re.I)
_LINK = re.compile(r"(https?://|www\.|[a-z0-9-]+\.(com|cn|net|org|top|xyz|io|cc|vip|info)\b)", re.I)
_REPEATED = re.compile(r"(.)\1{7,}", re.S)
_ALLOWED_CONTROLS = {"\n", "\t"}


class Flag(str, Enum):
    """Why a kept text is shown flagged to the office (web_ratings.flag, complaints.flag)."""

    LINK = "link"             # a web address: the usual sign of spam
    REPEATED = "repeated"     # one character over and over
    SPAM = "spam"             # one of the city's spam words
    ABUSE = "abuse"           # one of the city's abusive words


class UnsupportedForm(CentreError):
    status = 415


def parse_form(body: bytes, content_type: str | None) -> dict[str, list[str]]:
    """A urlencoded form's fields (each a list: checkboxes repeat a name), decoded strictly as UTF-8: a
    body that is not (a phone with another charset, a forged request) is refused, never read as U+FFFD."""
    if (content_type or "").split(";")[0].strip().lower() != FORM_CONTENT_TYPE:
        raise UnsupportedForm(f"a form is sent as {FORM_CONTENT_TYPE}")
    try:
        text = body.decode("ascii")   # a browser percent-encodes everything else
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadInput("the form is not valid UTF-8") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def clean_text(value: str, max_chars: int = TEXT_MAX_CHARS) -> str:
    """A citizen's free text as stored: line breaks made \\n, Unicode composed, trimmed; BadInput for HTML or
    script, control characters, or more than `max_chars` characters."""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if _TAG.search(text) or _SCRIPTY.search(text):
        raise BadInput("the text holds HTML or script; write it as plain text")
    if any(unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in text):
        raise BadInput("the text holds control characters")
    if len(text) > max_chars:
        raise BadInput(f"the text is {len(text)} characters long; at most {max_chars}")
    return text


def flag_of(text: str, settings: PublicSettings) -> Flag | None:
    """Why the office should see this kept text flagged, None for a plain one. Abuse before spam: the office
    reads an abusive text with care; spam words before links and repetition, the surer signs first."""
    folded = text.casefold()
    if any(word.casefold() in folded for word in settings.abuse_words if word):
        return Flag.ABUSE
    if any(word.casefold() in folded for word in settings.spam_words if word):
        return Flag.SPAM
    if _LINK.search(text):
        return Flag.LINK
    if _REPEATED.search(text):
        return Flag.REPEATED
    return None
