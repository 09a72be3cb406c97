"""The web questionnaire speaks the terminal's words where they mean the same thing there: the same bad-review
reason codes and level words (the centre never imports the terminal, so the two copies are held equal here);
its call-back consent says what the centre, not a terminal, does with a number."""
from __future__ import annotations

from centre import cityconfig
from centre.public import consent, webratings
from centre.public.texts import catalogue
from kiosk.config.citizen import CallbackSettings, default_levels, default_reasons


def test_the_web_consent_promises_what_the_centre_does_with_the_number(monkeypatch) -> None:
    """The terminal's purpose and separation, but the centre's erasure: no "erased from this terminal" on a
    phone, and the delay the city config gives; a changed delay is a new consent version."""
    terminal = CallbackSettings()
    assert "本机" not in consent.consent("zh") and "terminal" not in consent.consent("en")
    assert "30 天后删除" in consent.consent("zh") and "erased 30 days after" in consent.consent("en")
    assert consent.consent_version() != terminal.consent_version and len(consent.consent_version()) <= 16
    before = consent.consent_version()
    longer = cityconfig.CityConfig.model_validate({"cases": {"erase_numbers_after_days": 90}})
    monkeypatch.setattr(cityconfig, "_installed", longer)
    assert "90 天后删除" in consent.consent("zh") and consent.consent_version() != before


def test_the_reasons_and_levels_are_the_terminals() -> None:
    words = catalogue()
    assert tuple(reason.code for reason in default_reasons()) == webratings.REASON_CODES
    for reason in default_reasons():
        assert words[f"questionnaire.reason_{reason.code}"] == {"zh": reason.zh, "en": reason.en}
    for level in default_levels():
        assert words[f"questionnaire.level_{level.level}"] == {"zh": level.zh, "en": level.en}
