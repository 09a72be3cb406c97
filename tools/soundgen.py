"""Builds the shipped prompt sounds in kiosk/sounds/ from this source: nothing is downloaded.

    python -m tools.soundgen            # the chimes (pure Python), and the spoken prompts when espeak-ng is there
    python -m tools.soundgen --chimes   # the chimes only

Chimes are synthesized here (additive bell tones, `wave` + `math`); the spoken
prompts are a chime followed by espeak-ng's speech of the text below. Both are
committed, so a terminal needs neither this module nor espeak-ng at run time,
and the chimes are what plays wherever speech is missing. Every file is mono,
16-bit, 22.05 kHz (espeak-ng's own rate, so speech is never resampled), and the
same source gives the same bytes on every run.
"""
from __future__ import annotations

import argparse
import array
import math
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

RATE_HZ = 22_050
SAMPLE_BYTES = 2
PEAK = 0.7                        # of full scale (about -3 dBFS): room for the mixer without clipping
SOUNDS_DIR = Path(__file__).resolve().parent.parent / "kiosk" / "sounds"
ESPEAK = "espeak-ng"


@dataclass(frozen=True)
class Note:
    start_s: float
    freq_hz: float
    ring_s: float                 # time for the bell to decay to about -40 dB


# Two notes falling a major third (E5 → C5): the familiar "ding-dong" of a service bell, asking for attention.
REQUEST_CHIME = (Note(0.0, 659.25, 0.9), Note(0.42, 523.25, 1.1))
# A rising major triad (C5 E5 G5): reads as "done, thank you" without words.
THANKS_CHIME = (Note(0.0, 523.25, 0.6), Note(0.16, 659.25, 0.6), Note(0.32, 783.99, 1.0))
CHIMES = {"request": REQUEST_CHIME, "thanks": THANKS_CHIME}

# Debian's espeak-ng 1.51 reads Chinese characters with their tone digits in English ("nin two"), so the
# Mandarin texts are given as numbered pinyin to the pinyin voice, which speaks them with the right tones.
# (voice, words per minute, text): a little slower than espeak's 175, as a hall is noisy and some citizens old.
SPEECH = {
    ("request", "zh"): ("cmn-latn-pinyin", 160,   # 您好，请您对我的服务进行评价
                        "nin2 hao3, qing3 nin2 dui4 wo3 de5 fu2 wu4 jin4 xing2 ping2 jia4."),
    ("thanks", "zh"): ("cmn-latn-pinyin", 160, "xie4 xie5 nin2 de5 ping2 jia4."),   # 谢谢您的评价
    ("request", "en"): ("en-us", 150, "Hello, please rate my service."),
    ("thanks", "en"): ("en-us", 150, "Thank you for your rating."),
}
SPEECH_GAP_S = 0.3                # from the last note's strike to the first word


def chime(notes: tuple[Note, ...]) -> list[float]:
    """Bell-like notes: a 5 ms attack, an exponential decay, and two soft overtones for warmth."""
    length = max(note.start_s + note.ring_s for note in notes)
    samples = [0.0] * int(length * RATE_HZ)
    attack = int(0.005 * RATE_HZ)
    for note in notes:
        first = int(note.start_s * RATE_HZ)
        decay = math.log(100.0) / note.ring_s          # -40 dB after ring_s
        for i in range(int(note.ring_s * RATE_HZ)):
            t = i / RATE_HZ
            envelope = min(1.0, i / attack) * math.exp(-decay * t)
            phase = 2 * math.pi * note.freq_hz * t
            samples[first + i] += envelope * (math.sin(phase) + 0.3 * math.sin(2 * phase) + 0.1 * math.sin(3 * phase))
    return _fade_out(samples)


def tone(freq_hz: float, duration_s: float) -> list[float]:
    """A plain sine with 5 ms ramps: a test signal whose pitch is easy to find again."""
    count = int(duration_s * RATE_HZ)
    ramp = int(0.005 * RATE_HZ)
    return [min(1.0, i / ramp, (count - i) / ramp) * math.sin(2 * math.pi * freq_hz * i / RATE_HZ)
            for i in range(count)]


def _fade_out(samples: list[float], fade_s: float = 0.02) -> list[float]:
    # The decays end near -40 dB, not at zero: a short fade avoids a click at the very end.
    count = min(len(samples), int(fade_s * RATE_HZ))
    for i in range(count):
        samples[len(samples) - count + i] *= (count - i) / count
    return samples


def to_pcm(samples: list[float], peak: float = PEAK) -> bytes:
    """Normalized to `peak` of full scale, rounded to 16-bit little-endian."""
    loudest = max((abs(s) for s in samples), default=0.0) or 1.0
    scale = peak * 32767 / loudest
    pcm = array.array("h", (round(s * scale) for s in samples))
    if sys.byteorder != "little":
        pcm.byteswap()
    return pcm.tobytes()


def write_wav(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_BYTES)
        out.setframerate(RATE_HZ)
        out.writeframes(pcm)


def speak(voice: str, wpm: int, text: str) -> list[float]:
    """espeak-ng's speech of `text`, as samples in -1…1; raises when espeak-ng is missing or fails."""
    with tempfile.TemporaryDirectory(prefix="evaluator-speech-") as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run([ESPEAK, "-v", voice, "-s", str(wpm), "-w", str(out), text],
                       check=True, capture_output=True, timeout=60)
        with wave.open(str(out), "rb") as spoken:
            if (spoken.getnchannels(), spoken.getsampwidth(), spoken.getframerate()) != (1, 2, RATE_HZ):
                raise RuntimeError(f"{ESPEAK} wrote {spoken.getparams()}, expected mono 16-bit {RATE_HZ} Hz")
            pcm = array.array("h", spoken.readframes(spoken.getnframes()))
    if sys.byteorder != "little":
        pcm.byteswap()
    return _trim([s / 32768 for s in pcm])


def _trim(samples: list[float], floor: float = 0.002) -> list[float]:
    # espeak pads with silence; the prompt should start and end with sound, not with a pause.
    loud = [i for i, s in enumerate(samples) if abs(s) > floor]
    return samples[loud[0]:loud[-1] + 1] if loud else []


def spoken_prompt(prompt: str, locale: str) -> bytes:
    """The chime for attention, then the words over its ducked tail, at the chime's loudness."""
    voice, wpm, text = SPEECH[(prompt, locale)]
    bell = chime(CHIMES[prompt])
    bell_peak = max(abs(s) for s in bell)
    words = [s * bell_peak for s in _peak_one(speak(voice, wpm, text))]
    start = int((CHIMES[prompt][-1].start_s + SPEECH_GAP_S) * RATE_HZ)
    mixed = _duck(bell, start) + [0.0] * max(0, start + len(words) - len(bell))
    for i, s in enumerate(words):
        mixed[start + i] += s
    return to_pcm(mixed)


def _duck(samples: list[float], until: int, to: float = 0.3, over_s: float = 0.08) -> list[float]:
    # The bell keeps ringing under the voice, lowered smoothly (a step in gain would click).
    ramp = int(over_s * RATE_HZ)
    return [s * (1.0 if i < until - ramp else max(to, 1.0 - (1.0 - to) * (i - until + ramp) / ramp))
            for i, s in enumerate(samples)]


def _peak_one(samples: list[float]) -> list[float]:
    loudest = max((abs(s) for s in samples), default=0.0) or 1.0
    return [s / loudest for s in samples]


def chime_files() -> dict[str, bytes]:
    return {f"{prompt}-chime.wav": to_pcm(chime(notes)) for prompt, notes in CHIMES.items()}


def speech_files() -> dict[str, bytes]:
    return {f"{prompt}-{locale}.wav": spoken_prompt(prompt, locale) for prompt, locale in SPEECH}


def build(out_dir: Path, speech: bool) -> list[Path]:
    files = chime_files()
    if speech:
        files.update(speech_files())
    for name, pcm in files.items():
        write_wav(out_dir / name, pcm)
    return [out_dir / name for name in files]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soundgen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SOUNDS_DIR, help="folder to write into (default: %(default)s)")
    parser.add_argument("--chimes", action="store_true", help="only the chimes; leave the spoken prompts as they are")
    args = parser.parse_args(argv)
    speech = not args.chimes
    if speech and shutil.which(ESPEAK) is None:
        print(f"soundgen: {ESPEAK} is not installed (Debian: apt-get install espeak-ng); "
              "writing the chimes only, the spoken prompts stay as committed", file=sys.stderr)
        speech = False
    for path in build(args.out, speech):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
