"""The `sound:` settings, which prompt each step of a real service calls for, and which file plays it."""
from __future__ import annotations

import shutil

import pytest

from evaluator.cli import main as cli_main
from kiosk import config
from kiosk.config import ConfigError, Locale, PromptStyle, Settings
from kiosk.devices.sound import SOUNDS_DIR, Prompt, prompt_file, prompt_for
from kiosk.store.tables import Channel
from tests.kiosk.rating.test_service import make_service


def write_config(tmp_path, sound_yaml: str):
    path = tmp_path / "etc" / "config.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"store: {{path: {tmp_path / 'evaluator.db'}}}\nsound:\n{sound_yaml}", encoding="utf-8")
    return path


def test_defaults_play_the_shipped_speech_at_0_8():
    sound = Settings().sound
    assert sound.enabled and sound.volume == 0.8 and sound.style is PromptStyle.SPEECH
    assert prompt_file(sound, Prompt.REQUEST, Locale.ZH) == SOUNDS_DIR / "request-zh.wav"
    assert prompt_file(sound, Prompt.THANKS, Locale.EN) == SOUNDS_DIR / "thanks-en.wav"
    chimes = Settings.model_validate({"sound": {"style": "chime"}}).sound
    assert prompt_file(chimes, Prompt.REQUEST, Locale.EN) == SOUNDS_DIR / "request-chime.wav"
    for prompt in Prompt:
        for locale in Locale:
            assert prompt_file(sound, prompt, locale).is_file()


def test_configured_files_are_relative_to_the_config_folder_and_serve_english_too(tmp_path):
    (tmp_path / "etc" / "sounds").mkdir(parents=True)
    shutil.copy(SOUNDS_DIR / "request-chime.wav", tmp_path / "etc" / "sounds" / "ask.wav")
    shutil.copy(SOUNDS_DIR / "thanks-chime.wav", tmp_path / "etc" / "sounds" / "thanks.wav")
    shutil.copy(SOUNDS_DIR / "thanks-en.wav", tmp_path / "etc" / "sounds" / "thanks-en.wav")
    path = write_config(tmp_path, "  request_prompt: sounds/ask.wav\n  thanks_prompt: sounds/thanks.wav\n"
                                  "  thanks_prompt_en: sounds/thanks-en.wav\n")
    sound = config.load(path).sound
    folder = (tmp_path / "etc" / "sounds").resolve()
    assert prompt_file(sound, Prompt.REQUEST, Locale.ZH) == folder / "ask.wav"
    assert prompt_file(sound, Prompt.REQUEST, Locale.EN) == folder / "ask.wav"        # no _en: the same file
    assert prompt_file(sound, Prompt.THANKS, Locale.ZH) == folder / "thanks.wav"
    assert prompt_file(sound, Prompt.THANKS, Locale.EN) == folder / "thanks-en.wav"


@pytest.mark.parametrize("setting, make, words", [
    ("request_prompt", None, "file not found"),
    ("thanks_prompt", lambda p: p.mkdir(), "is a folder"),
    ("thanks_prompt_en", lambda p: p.write_bytes(b"ID3\x04\x00" + bytes(100)), "not a WAV or OGG"),
    ("request_prompt_en", lambda p: p.write_text("RIFF but text", encoding="utf-8"), "not a WAV or OGG"),
])
def test_a_bad_prompt_file_names_the_setting_and_the_path(tmp_path, setting, make, words):
    target = tmp_path / "etc" / "prompt.wav"
    target.parent.mkdir(parents=True)
    if make is not None:
        make(target)
    path = write_config(tmp_path, f"  {setting}: prompt.wav\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    message = str(caught.value)
    assert f"sound.{setting}: {target.resolve()}: {words}" in message
    assert str(path) in message


def test_an_ogg_file_is_accepted_and_a_disabled_sound_checks_nothing(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "ask.ogg").write_bytes(b"OggS\x00\x02" + bytes(200))
    assert config.load(write_config(tmp_path, "  request_prompt: ask.ogg\n")).sound.request_prompt.name == "ask.ogg"
    off = config.load(write_config(tmp_path, "  enabled: false\n  request_prompt: gone.wav\n"))
    assert not off.sound.enabled


@pytest.mark.parametrize("value", ["1.5", "-0.1", "loud"])
def test_volume_outside_0_to_1_is_refused(tmp_path, value):
    with pytest.raises(ConfigError, match=r"sound\.volume"):
        config.load(write_config(tmp_path, f"  volume: {value}\n"))


def test_the_cli_exits_2_on_a_missing_prompt(tmp_path, capsys):
    path = write_config(tmp_path, "  thanks_prompt: nowhere.wav\n")
    assert cli_main(["summary", "--config", str(path)]) == 2
    assert "sound.thanks_prompt" in capsys.readouterr().err


def prompts_of(service) -> list[Prompt]:
    heard: list[Prompt] = []
    previous = [service.view]

    def listener(view):
        prompt = prompt_for(previous[0], view)
        previous[0] = view
        if prompt is not None:
            heard.append(prompt)

    service.add_view_listener(listener)
    return heard


def test_solicited_flow_asks_once_per_request_and_thanks_once_per_rating(make_settings, store):
    settings = make_settings(mode="solicited")
    service, clock = make_service(settings, store)
    heard = prompts_of(service)

    service.solicit(source="staff_key")
    assert heard == [Prompt.REQUEST]
    service.press(4, Channel.PANEL)
    assert heard == [Prompt.REQUEST, Prompt.THANKS]
    service.press(4, Channel.PANEL)                    # suppressed: republished, but no second thanks
    clock.advance(settings.timings.thanks_s)           # back to idle: silence
    service.solicit(source="staff_key")                # a new service with the same (empty) case: asked again
    service.solicit(source="staff_key")                # and again: the first was left unrated
    clock.advance(settings.timings.solicit_window_s)   # window closes unrated: no thanks
    assert heard == [Prompt.REQUEST, Prompt.THANKS, Prompt.REQUEST, Prompt.REQUEST]


def test_a_bad_review_is_thanked_after_its_reasons(make_settings, store):
    settings = make_settings(mode="solicited")
    service, clock = make_service(settings, store)
    heard = prompts_of(service)
    service.solicit()
    service.press(1, Channel.TOUCH)
    service.toggle_reason("slow")                      # the reasons screen: nothing to hear yet
    assert heard == [Prompt.REQUEST]
    service.submit_reasons()
    assert heard == [Prompt.REQUEST, Prompt.THANKS]


def test_open_mode_asks_nobody_and_thanks_each_rating(settings, store):
    service, clock = make_service(settings, store)
    heard = prompts_of(service)
    service.press(5, Channel.TOUCH)
    clock.advance(settings.timings.cooldown_s)
    service.press(3, Channel.TOUCH)
    assert heard == [Prompt.THANKS, Prompt.THANKS]
