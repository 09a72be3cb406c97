"""Voice prompts as SDL really mixes them: the terminal's UI in a subprocess, audio through SDL's `disk` driver.

The disk driver writes what the mixer outputs (44.1 kHz stereo 16-bit, the
format Kivy opens the device with) to a file, paced like a real device, so
the file is a recording of what a speaker would have played. Prompts in the
tests are plain tones whose pitch tells which one played.
"""
from __future__ import annotations

import array
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.devices.sound import SOUNDS_DIR
from tests.conftest import REPO
from tools import soundgen

OUT_HZ = 44_100
FRAME = OUT_HZ // 50             # 20 ms: ten periods of the lower test tone
ASK_HZ, THANKS_HZ = 500, 1000


@dataclass(frozen=True)
class Segment:
    start_s: float
    length_s: float
    pitch_hz: float
    peak: int


def run_terminal(tmp_path: Path, steps: list[str], driver: str = "disk", mode: str = "solicited",
                 **sound) -> tuple[dict, Path, str]:
    """The UI through `steps` with a config whose sound section is `sound`; returns its report, recording, log."""
    recording = tmp_path / "speaker.raw"
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"mode": mode, "store": {"path": str(tmp_path / "evaluator.db")},
                                  "timings": {"thanks_s": 2.5, "cooldown_s": 2.5}, "sound": sound}), encoding="utf-8")
    env = {**os.environ, "SDL_AUDIODRIVER": driver, "SDL_DISKAUDIOFILE": str(recording)}
    done = subprocess.run([sys.executable, "-m", "tests.kiosk.ui.audio_run", str(config), *steps], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), recording, done.stderr


@pytest.fixture
def tones(tmp_path) -> dict[str, str]:
    """A 1 s request tone and a 1 s thanks tone, configured as the prompts."""
    for name, hz in (("ask.wav", ASK_HZ), ("thanks.wav", THANKS_HZ)):
        soundgen.write_wav(tmp_path / name, soundgen.to_pcm(soundgen.tone(hz, 1.0)))
    return {"request_prompt": str(tmp_path / "ask.wav"), "thanks_prompt": str(tmp_path / "thanks.wav")}


def prompt(segment: Segment) -> str:
    """Which test prompt a stretch of sound is, by its pitch (within 5 %)."""
    for name, hz in (("ask", ASK_HZ), ("thanks", THANKS_HZ)):
        if abs(segment.pitch_hz - hz) < 0.05 * hz:
            return name
    return f"{segment.pitch_hz:.0f} Hz"


def left_channel(recording: Path) -> array.array:
    samples = array.array("h", recording.read_bytes())
    if sys.byteorder != "little":
        samples.byteswap()
    return samples[0::2]


def segments(recording: Path, floor: int = 100, min_s: float = 0.06) -> list[Segment]:
    """The stretches of sound in the recording, split where the pitch changes (one prompt cut off by the next
    leaves no silence between them); stretches shorter than `min_s` (a frame straddling a change) are dropped."""
    left = left_channel(recording)
    runs: list[list[int]] = []                    # [first frame, end frame, pitch bucket]
    for index in range(len(left) // FRAME):
        part = left[index * FRAME:(index + 1) * FRAME]
        if max(map(abs, part)) <= floor:
            continue
        rises = sum(1 for a, b in zip(part, part[1:]) if a < 0 <= b)
        bucket = round(rises * OUT_HZ / FRAME / 50)           # pitch to the nearest 50 Hz
        if runs and runs[-1][2] == bucket and index - runs[-1][1] <= 1:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1, bucket])
    found = []
    for first, end, _ in runs:
        part = left[first * FRAME:end * FRAME]
        rises = sum(1 for a, b in zip(part, part[1:]) if a < 0 <= b)
        length_s = (end - first) * FRAME / OUT_HZ
        if length_s >= min_s:
            found.append(Segment(first * FRAME / OUT_HZ, length_s, rises / length_s, max(map(abs, part))))
    return found


def test_a_request_plays_the_request_prompt_and_a_rating_the_thanks(tmp_path, tones):
    report, recording, _ = run_terminal(tmp_path, ["wait:0.3", "solicit", "wait:1.4", "press:4", "wait:1.4"],
                                        volume=1.0, **tones)
    assert report["ratings"] == 1
    heard = segments(recording)
    assert [prompt(s) for s in heard] == ["ask", "thanks"], heard
    assert all(s.length_s == pytest.approx(1.0, abs=0.06) for s in heard), heard
    assert heard[0].start_s >= 0.25                       # nothing before the request
    # Full volume plays the file's own peak (the generator's 0.7 of full scale), through SDL's resampling.
    assert all(s.peak == pytest.approx(soundgen.PEAK * 32767, rel=0.05) for s in heard), heard


def test_a_prompt_still_playing_stops_when_the_next_starts(tmp_path, tones):
    soundgen.write_wav(tmp_path / "ask.wav", soundgen.to_pcm(soundgen.tone(ASK_HZ, 3.0)))   # a long request
    _, recording, _ = run_terminal(tmp_path, ["solicit", "wait:0.5", "press:5", "wait:1.4"], **tones)
    heard = segments(recording)
    assert [prompt(s) for s in heard] == ["ask", "thanks"], heard
    assert heard[0].length_s < 1.5                        # cut short: the 3 s tone did not play on
    assert heard[1].length_s == pytest.approx(1.0, abs=0.06)
    assert heard[1].start_s >= heard[0].start_s + heard[0].length_s   # one at a time, never mixed


def test_volume_scales_the_output_and_zero_is_silence(tmp_path, tones):
    _, recording, _ = run_terminal(tmp_path, ["solicit", "wait:1.2"], volume=0.5, **tones)
    (heard,) = segments(recording)
    assert heard.peak == pytest.approx(0.5 * soundgen.PEAK * 32767, rel=0.05)

    recording.unlink()
    _, recording, _ = run_terminal(tmp_path, ["solicit", "wait:1.2", "press:3", "wait:1.2"], volume=0.0, **tones)
    left = left_channel(recording)
    assert len(left) > 2 * OUT_HZ                         # the device was open and playing all along…
    assert max(map(abs, left)) == 0                       # …and played nothing but silence


def test_sound_off_never_opens_the_audio_device(tmp_path, tones):
    report, recording, _ = run_terminal(tmp_path, ["solicit", "wait:0.5", "press:4", "wait:0.5"],
                                        enabled=False, **tones)
    assert report == {"ratings": 1, "player": False, "loaded": []}
    assert not recording.exists()


def test_without_an_audio_device_the_terminal_rates_in_silence_and_says_so_once(tmp_path, tones):
    steps = ["solicit", "wait:0.3", "press:4", "wait:0.3", "solicit", "wait:0.3", "press:2", "wait:0.3"]
    report, _, log = run_terminal(tmp_path, steps, driver="no-such-audio-driver", **tones)
    assert report == {"ratings": 2, "player": True, "loaded": []}
    assert log.count("voice prompts off until restart") == 1, log[-3000:]


def test_shipped_speech_follows_the_citizens_language(tmp_path):
    """Open mode with the defaults: a citizen who switched to English hears the English thanks, the next one
    (back in Chinese) the Chinese thanks. Each prompt is told by the shape of its loudness over time."""
    # The English thanks lasts about 2 s: 4.5 s between presses leaves a silence the split below can see.
    steps = ["wait:0.3", "lang", "press:5", "wait:4.5", "press:4", "wait:2.8"]   # thanks and cooldown: 2.5 s
    report, recording, _ = run_terminal(tmp_path, steps, mode="open", volume=1.0)
    assert report["ratings"] == 2
    left = left_channel(recording)
    spans = _spans(segments(recording, floor=30, min_s=0), split_s=1.0)
    assert len(spans) == 2, spans
    candidates = [path.name for path in sorted(SOUNDS_DIR.glob("*.wav"))]
    for (start_s, end_s), expected in zip(spans, ("thanks-en.wav", "thanks-zh.wav")):
        assert end_s - start_s == pytest.approx(_duration(expected), abs=0.08), (spans, expected)
        played = _envelope(left[int(start_s * OUT_HZ):int(end_s * OUT_HZ)], OUT_HZ)
        likeness = {name: _likeness(played, _envelope(_file_samples(name), 22_050)) for name in candidates}
        assert max(likeness, key=likeness.get) == expected, likeness
        assert likeness[expected] > 0.9, likeness


def _spans(heard: list[Segment], split_s: float) -> list[tuple[float, float]]:
    # Speech has pauses between words: segments closer than split_s belong to one prompt.
    spans: list[list[float]] = []
    for s in heard:
        if spans and s.start_s - spans[-1][1] < split_s:
            spans[-1][1] = s.start_s + s.length_s
        else:
            spans.append([s.start_s, s.start_s + s.length_s])
    return [(start, end) for start, end in spans]


def _envelope(samples, rate: int) -> list[float]:
    """Loudness per 20 ms: the same for a file and for what SDL made of it (resampled, volume applied)."""
    step = rate // 50
    return [max(map(abs, samples[i:i + step])) for i in range(0, len(samples) - step + 1, step)]


def _likeness(a: list[float], b: list[float]) -> float:
    """Correlation of two loudness curves, the best over a shift of up to two frames."""
    best = -1.0
    for shift in range(-2, 3):
        x, y = (a[shift:], b) if shift >= 0 else (a, b[-shift:])
        n = min(len(x), len(y))
        if n < 10:
            continue
        x, y = x[:n], y[:n]
        mx, my = sum(x) / n, sum(y) / n
        cov = sum((p - mx) * (q - my) for p, q in zip(x, y))
        norm = (sum((p - mx) ** 2 for p in x) * sum((q - my) ** 2 for q in y)) ** 0.5
        best = max(best, cov / norm if norm else 0.0)
    # A file much shorter or longer than what played is not it, however alike their starts.
    return best * min(len(a), len(b)) / max(len(a), len(b))


def _file_samples(name: str) -> array.array:
    import wave

    with wave.open(str(SOUNDS_DIR / name), "rb") as file:
        samples = array.array("h", file.readframes(file.getnframes()))
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def _duration(name: str) -> float:
    return len(_file_samples(name)) / 22_050
