"""The shipped prompt sounds: built from source, in the declared format, audible, and the same bytes each build."""
from __future__ import annotations

import array
import wave
from pathlib import Path

import pytest

from kiosk.devices.sound import SOUNDS_DIR
from tests.testdeps import require
from tools import soundgen

CHIMES = ("request-chime.wav", "thanks-chime.wav")
SPOKEN = ("request-zh.wav", "thanks-zh.wav", "request-en.wav", "thanks-en.wav")


def read(path: Path) -> tuple[wave._wave_params, array.array]:
    with wave.open(str(path), "rb") as file:
        params = file.getparams()
        samples = array.array("h", file.readframes(file.getnframes()))
    return params, samples


def assert_prompt_format(path: Path, min_s: float, max_s: float) -> None:
    params, samples = read(path)
    assert (params.nchannels, params.sampwidth, params.framerate, params.comptype) == (1, 2, 22_050, "NONE"), path
    duration_s = params.nframes / params.framerate
    assert min_s <= duration_s <= max_s, (path.name, duration_s)
    peak = max(abs(s) for s in samples)
    # Normalized to the declared peak, so every prompt is as loud as the others and none clips.
    assert abs(peak - round(soundgen.PEAK * 32767)) <= 1, (path.name, peak)
    loud = sum(1 for s in samples if abs(s) > 0.05 * 32767)
    assert loud > 0.2 * len(samples), f"{path.name} is mostly silence"


def test_chimes_build_in_the_declared_format_and_length(tmp_path):
    written = soundgen.build(tmp_path, speech=False)
    assert sorted(path.name for path in written) == sorted(CHIMES)
    assert_prompt_format(tmp_path / "request-chime.wav", 1.2, 2.0)   # ding (0.42 s) – dong ringing 1.1 s
    assert_prompt_format(tmp_path / "thanks-chime.wav", 1.0, 1.6)


def test_chimes_are_the_same_bytes_on_every_build(tmp_path):
    soundgen.build(tmp_path / "one", speech=False)
    soundgen.build(tmp_path / "two", speech=False)
    for name in CHIMES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_the_committed_chimes_are_what_the_source_builds(tmp_path):
    soundgen.build(tmp_path, speech=False)
    for name in CHIMES:
        assert (SOUNDS_DIR / name).read_bytes() == (tmp_path / name).read_bytes(), \
            f"kiosk/sounds/{name} is stale: run `make sounds` and commit"


def test_chime_pitches_are_the_declared_notes():
    # The request chime's first 0.4 s is its E5 alone; a zero-crossing count finds its pitch.
    _, samples = read(SOUNDS_DIR / "request-chime.wav")
    head = samples[int(0.01 * 22_050):int(0.4 * 22_050)]
    crossings = sum(1 for a, b in zip(head, head[1:]) if a < 0 <= b)
    assert crossings / (len(head) / 22_050) == pytest.approx(659.25, rel=0.02)


def test_committed_spoken_prompts_are_mono_16_bit_and_audible():
    for name in SPOKEN:
        assert_prompt_format(SOUNDS_DIR / name, 1.5, 6.0)
    # A spoken prompt is its chime followed by words: it starts as the chime does, and lasts longer.
    for prompt in ("request", "thanks"):
        _, chime = read(SOUNDS_DIR / f"{prompt}-chime.wav")
        for locale in ("zh", "en"):
            _, spoken = read(SOUNDS_DIR / f"{prompt}-{locale}.wav")
            assert len(spoken) > len(chime) + 22_050 // 2
            assert _correlated(spoken[:2000], chime[:2000])


def _correlated(a: array.array, b: array.array) -> bool:
    # Both are normalized over their whole length, so the shared chime may differ in scale only.
    dot = sum(x * y for x, y in zip(a, b))
    norm = (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5
    return dot / norm > 0.99


def test_the_committed_spoken_prompts_are_what_the_build_makes(tmp_path):
    # The shipped speech must come from this source and Debian's espeak-ng (deploy/testdeps.sh installs it):
    # a hand-edited or stale file, or a build that no longer gives the same bytes, fails here. About 1 s.
    require(soundgen.ESPEAK)
    soundgen.build(tmp_path, speech=True)
    for name in SPOKEN:
        assert_prompt_format(tmp_path / name, 1.5, 6.0)
        assert (SOUNDS_DIR / name).read_bytes() == (tmp_path / name).read_bytes(), \
            f"kiosk/sounds/{name} is not what the build makes: run `make sounds` and commit"


def test_without_espeak_the_build_keeps_the_committed_speech(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(soundgen, "ESPEAK", "espeak-ng-not-installed")
    assert soundgen.main(["--out", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(CHIMES)
    assert "espeak-ng-not-installed is not installed" in capsys.readouterr().err
