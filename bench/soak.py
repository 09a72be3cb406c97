"""Long-run soak: rating cycles through the real offscreen UI; memory drift, textures, cold start.

1. Cold start to first frame: `python -m evaluator.cli run` in fresh processes on the store the first of them
   created (a terminal's every boot; that first start is reported apart),
   timed from Popen in the parent and from the child's own start (/proc start time and the script's
   import) to the first Window.on_flip, glFinish'ed; the baseline is a bare Kivy App with one Label.
2. Soak: in this process, a real offscreen window, file store and RatingService with short timings,
   a signed-in staff member with a photo and a signed complaint QR after bad reviews. A cycle is a
   tap on a level button (all five in turn; 2 and 1 go through the reasons screen, submitted with a
   reason or skipped, alternately; every third citizen switches to English first) until the rating
   screen takes presses again (the terminal then trims its C heap, as between any two citizens:
   kiosk.devices.heap). The citizens repeat with a period of 30 cycles, and every checkpoint falls at the same
   point of it: what the last citizen left on the screen (English or not, which reason) moves RSS by
   about 3 MB, so checkpoints at different points measured that, not drift. 510 warm-up cycles, then
   every 510: VmRSS, VmHWM, glibc's heap in use and free, live
   Texture objects (by size; those made since start-up: see `sample`) and Kivy Cache entries.
   Baseline: the same cycles through RatingService and the
   store alone (no Kivy) in a child process.
Goals: RSS drift (end − after warm-up; peak and VmHWM too) ≤ 5 MB, no texture growth; start ≤ 2 s.
Run: .venv/bin/python bench/soak.py [--cycles N | --quick] [--size WxH] [--trace] [--no-start | --start-only]
"""
from __future__ import annotations

import time

T_IMPORT = time.monotonic()  # first thing: the cold-start child counts from here

import argparse
import gc
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_DRIFT_MB, GOAL_START_S = 5.0, 2.0
LEVELS = (5, 2, 4, 1, 3)            # good and bad alternate; every level in turn
ENGLISH_EVERY, REASONS = 3, 6       # every third citizen reads English; the default reasons, toggled in turn
# The citizens' pattern repeats after lcm(levels, English, submit/skip alternating per round of levels,
# reasons) cycles. Checkpoints fall on whole periods, so each compares the terminal in the same state.
PATTERN = math.lcm(len(LEVELS), ENGLISH_EVERY, 2 * len(LEVELS), REASONS)
WARMUP = EVERY = 17 * PATTERN       # 510
CYCLES = 20 * EVERY                 # 10,200: the issue's 10,000 cycles, in whole periods
START_RUNS = 5
# Tiny but > 0, as config requires. The cooldown outlasts the thanks screen and its frame, as with the
# defaults (3 s, 5 s), so after a good rating the rating screen is drawn dimmed ("请稍候") and then
# taking presses; after a bad one the reasons step outlasts the cooldown, as it does in the hall.
# The complaint QR's thanks lingers no longer than any thanks (a real citizen may close it by touch).
FAST = {"thanks_s": 0.02, "complaint_qr_s": 0.02, "cooldown_s": 0.25, "reason_timeout_s": 30.0}
FIRST_FRAME = "FIRST_FRAME"


def proc_status_mb(*keys: str) -> tuple[float, ...]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return tuple(int(fields[key].split()[0]) / 1024 for key in keys)


def since_exec_s() -> float:
    """Seconds since this process was exec'd (kernel start time: 1/CLK_TCK resolution)."""
    start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")


# -- cold start: child side ------------------------------------------------------------------------


def watch_first_frame() -> None:
    """On the first Clock tick, catch the first flip: print the times and stop the app."""
    from kivy.clock import Clock

    def on_flip(window, *_args):
        from kivy.graphics.opengl import glFinish

        glFinish()      # drawn, not just queued: an offscreen pbuffer's swap does not flush
        now = time.monotonic()
        window.unbind(on_flip=on_flip)
        print(f"{FIRST_FRAME} {since_exec_s() - (time.monotonic() - now):.4f} {now - T_IMPORT:.4f}", flush=True)
        from kivy.app import App

        Clock.schedule_once(lambda _dt: App.get_running_app().stop(), 0)

    def first_tick(_dt):
        from kivy.core.window import Window

        Window.bind(on_flip=on_flip)

    Clock.schedule_once(first_tick, 0)


def start_child(kind: str, config: str) -> None:
    if kind == "app":   # the real `python -m evaluator.cli run`, with the hook added once Kivy is configured
        import runpy

        from kiosk.ui import boot

        prepare = boot.prepare_kivy

        def prepare_and_watch(*args, **kwargs):
            font = prepare(*args, **kwargs)
            watch_first_frame()
            return font

        boot.prepare_kivy = prepare_and_watch
        sys.argv = ["evaluator", "run", "--config", config]
        runpy.run_module("evaluator.cli", run_name="__main__", alter_sys=True)
        return
    for name, value in (("KIVY_NO_FILELOG", "1"), ("KIVY_NO_CONFIG", "1"), ("KIVY_LOG_MODE", "PYTHON")):
        os.environ.setdefault(name, value)      # as prepare_kivy sets them
    from kivy.config import Config

    Config.set("graphics", "width", "1280")
    Config.set("graphics", "height", "800")
    watch_first_frame()
    from kivy.app import App
    from kivy.uix.label import Label

    class BareApp(App):
        def build(self):
            return Label(text="bare Kivy App")

    BareApp().run()


# -- cold start: parent side -----------------------------------------------------------------------


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(json.dumps({     # JSON is YAML
        "store": {"path": str(folder / "evaluator.db")}, "sync": {"state_dir": str(folder / "sync")},
        "access": {"export_dir": str(folder / "usb")},
        "ui": {"fullscreen": False, "kiosk": False, "width_px": 1280, "height_px": 800}}))
    return config


def time_start(kind: str, folder: Path, env: dict[str, str]) -> tuple[float, float, float, float]:
    """(parent wall to first frame, child exec → frame, child import → frame, parent wall to exit)."""
    config, log = write_config(folder), folder / "stderr.txt"
    with open(log, "wb") as err:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, __file__, "--start-child", kind, "--config", str(config)],
                                 stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        for line in child.stdout:
            if line.startswith(FIRST_FRAME):
                wall = time.monotonic() - started
                since_exec, since_import = map(float, line.split()[1:])
                break
        else:
            child.wait()
            raise RuntimeError(f"{kind} child ended without a frame:\n{log.read_text()[-3000:]}")
        child.stdout.read()
        if child.wait(timeout=60) != 0:
            raise RuntimeError(f"{kind} child exited {child.returncode}:\n{log.read_text()[-3000:]}")
    return wall, since_exec, since_import, time.monotonic() - started


def _medians(rows: list[tuple[float, ...]], *columns: int) -> list[float]:
    return [statistics.median(row[column] for row in rows) for column in columns]


def cold_start(scratch: Path) -> float:
    """Alternating bare / app children. The terminal's runs restart on the store its first start made, as
    every boot after installation does; the first start (creating the store, running every migration)
    happens once per terminal and is reported apart. Returns the restarts' worst wall time."""
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(scratch / "kivy-home")}
    times: dict[str, list[tuple[float, ...]]] = {"bare": [], "app": []}
    first = time_start("app", scratch / "start-app", env)          # creates the store
    for run in range(START_RUNS):
        times["bare"].append(time_start("bare", scratch / f"start-bare-{run}", env))
        times["app"].append(time_start("app", scratch / "start-app", env))
    print(f"cold start to first frame, {START_RUNS} runs each (first run = coldest), seconds")
    print(f"{'':34} {'first':>7} {'median':>7} {'worst':>7}   child exec→frame  import→frame  exit")
    for kind, label in (("bare", "bare Kivy App + Label (baseline)"), ("app", "evaluator run, existing store")):
        walls, (since_exec, since_import, exit_s) = [t[0] for t in times[kind]], _medians(times[kind], 1, 2, 3)
        print(f"{label:34} {walls[0]:7.3f} {statistics.median(walls):7.3f} {max(walls):7.3f}   "
              f"{since_exec:16.3f} {since_import:13.3f} {exit_s:5.2f}")
    print(f"{'evaluator run, first start ever':34} {first[0]:7.3f} {'':>7} {'':>7}   {first[1]:16.3f} "
          f"{first[2]:13.3f} {first[3]:5.2f}   (creates the store: once per terminal)")
    added = statistics.median(t[0] for t in times["app"]) - statistics.median(t[0] for t in times["bare"])
    print(f"what the terminal adds over bare Kivy (median wall): {added:+.3f} s")
    return max(t[0] for t in times["app"])


# -- soak: shared ----------------------------------------------------------------------------------


@dataclass
class Sample:
    cycle: int
    elapsed_s: float
    rss_mb: float
    hwm_mb: float
    textures: int = 0
    by_size: Counter = field(default_factory=Counter)
    caches: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    by_type: Counter = field(default_factory=Counter)
    heap_used_mb: float = 0.0       # glibc's count (kiosk.devices.heap.usage): what RSS is made of
    heap_free_mb: float = 0.0


def soak_settings(folder: Path, size: tuple[int, int] | None = None):
    """A terminal as the hall runs one: a signed-in staff member with a photo, complaint and
    questionnaire links (QR codes), and the short timings."""
    from kiosk.config import Settings

    # Kivy's own logo as the photo, found without importing Kivy (prepare_kivy must come first).
    photo = Path(importlib.util.find_spec("kivy").submodule_search_locations[0]) / "data/logo/kivy-icon-256.png"

    ui = {"width_px": size[0], "height_px": size[1]} if size else {}
    return Settings.model_validate({
        "store": {"path": str(folder / "soak.db")}, "timings": FAST, "ui": ui,
        "sync": {"state_dir": str(folder / "sync")}, "access": {"export_dir": str(folder / "usb")},
        "staff": [{"id": "A0107", "name": "李晓梅", "name_en": "Li Xiaomei", "post": "综合窗口",
                   "photo": str(photo)}],
        "counter": {"staff_id": "A0107"},
        "citizen": {"complaint_url": "https://pingjia.example.gov.cn/complaint",
                    "questionnaire_url": "https://pingjia.example.gov.cn/survey"}})


def enroll_for_bench(settings) -> None:
    """A made-up device key in the soak's own state dir, so each complaint QR is signed per rating as
    on an enrolled terminal (a new payload every bad review)."""
    from sync.client import Credentials

    Credentials(server="https://pingjia.example.gov.cn", device_id=settings.device.id,
                secret="bench-soak-made-up-key").save(settings.sync.state_dir)


def checkpoints(total: int) -> set[int]:
    return {0, WARMUP, *range(WARMUP + EVERY, total + 1, EVERY), total}


# -- soak baseline: the service and store alone (child process, no Kivy) -----------------------------


def service_child(cycles: int, folder: Path) -> None:
    from bench.press_to_commit import StepScheduler
    from evaluator.terminal import open_store
    from kiosk.rating.service import RatingService
    from kiosk.store.tables import Channel

    settings = soak_settings(folder)
    assert len(settings.bad_reasons) == REASONS, "PATTERN assumes the default reasons"
    store, scheduler, clock = open_store(settings), StepScheduler(), iter(range(0, 10**12, 60))
    service = RatingService(settings, store, scheduler, monotonic=lambda: float(next(clock)))
    service.start()
    codes = [reason.code for reason in settings.bad_reasons]
    total, started, marks = WARMUP + cycles, time.monotonic(), checkpoints(WARMUP + cycles)
    for n in range(total + 1):
        if n in marks:
            rss, hwm = proc_status_mb("VmRSS", "VmHWM")
            print(json.dumps([n, time.monotonic() - started, rss, hwm]), flush=True)
        if n == total:
            break
        level = LEVELS[n % len(LEVELS)]
        service.press(level, Channel.TOUCH)
        if level in settings.bad_levels:
            if (n // len(LEVELS)) % 2 == 0:
                service.toggle_reason(codes[n % len(codes)])
                service.submit_reasons()
            else:
                service.skip_reasons()
        scheduler.fire_all()
    assert store.count_ratings() == total and store.verify().ok
    service.stop()
    store.close()


def service_baseline(cycles: int, folder: Path) -> list[Sample]:
    out = subprocess.run([sys.executable, __file__, "--service-child", str(cycles), "--folder", str(folder)],
                         capture_output=True, text=True, check=True).stdout
    return [Sample(*json.loads(line)) for line in out.splitlines() if line.startswith("[")]


# -- soak: the real UI -------------------------------------------------------------------------------


def pump_until(condition, timeout_s: float = 10.0) -> None:
    """Run Kivy frames until `condition` holds (as tests/kiosk/ui/conftest.py does)."""
    from kivy.base import EventLoop

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        EventLoop.idle()


def laid_out(widgets) -> bool:
    """New widgets sit at (0, 0) until the next layout pass; a tap before it lands on the wrong one."""
    return len({(round(w.x), round(w.y)) for w in widgets}) == len(widgets)


def tap(widget) -> None:
    """A finger down and up on the widget's centre, through Kivy's input pipeline."""
    from kivy.tests.common import UnitTestTouch

    touch = UnitTestTouch(*widget.to_window(*widget.center))
    touch.touch_down()
    touch.touch_up()


class Terminal:
    """The composition of evaluator.terminal.run_terminal (no panel), driven by simulated touch."""

    def __init__(self, folder: Path, size: tuple[int, int] | None):
        from kiosk.ui.boot import prepare_kivy

        settings = soak_settings(folder, size)
        enroll_for_bench(settings)
        prepare_kivy(settings, offscreen=True)
        from kivy.base import EventLoop

        EventLoop.ensure_window()
        from evaluator.terminal import complaint_link, open_store, staff_access, technician_mode
        from kiosk.rating.service import RatingService
        from kiosk.ui.app import EvaluatorApp, KivyScheduler

        self.window, self.bad = EventLoop.window, settings.bad_levels
        assert len(settings.bad_reasons) == REASONS, "PATTERN assumes the default reasons"
        self.store = open_store(settings)
        self.service = RatingService(settings, self.store, KivyScheduler())
        access, scores = staff_access(settings, self.store)
        self.app = EvaluatorApp(settings, self.service, access=access, scores=scores,
                                technician=lambda restart: technician_mode(settings, self.store, None, restart),
                                complaint_link=complaint_link(settings))
        self.root = self.app.build()
        self.window.add_widget(self.root)
        self.app.on_start()
        self.manager = self.app.ui.manager
        self.thanked = self.dimmed = self.switched = 0
        self.manager.bind(current=self._screen_changed)
        self.manager.get_screen("rating").bind(model=self._rating_changed)
        pump_until(self.ready)

    def _screen_changed(self, _manager, name: str) -> None:
        self.thanked += name == "thanks"

    def _rating_changed(self, _screen, model) -> None:
        self.dimmed += model is not None and not model.accepting

    def shown(self, name: str) -> bool:
        return self.manager.current == name and not self.manager.transition.is_active

    def ready(self) -> bool:
        screen = self.manager.get_screen("rating")
        return self.shown("rating") and screen.model.accepting and self.service.view.accepting \
            and laid_out(screen.ids.levels.children)

    def cycle(self, n: int) -> None:
        level = LEVELS[n % len(LEVELS)]
        rating = self.manager.get_screen("rating")
        if n % ENGLISH_EVERY == 1:        # every third citizen reads English: both rebuilds of the buttons, per cycle
            self._switch_language(rating)
        tap(next(button for button in rating.ids.levels.children if button.level == level))
        assert self.service.view.rating is not None and self.service.view.rating.level == level, n
        if level in self.bad:
            screen = self.manager.get_screen("reasons")
            pump_until(lambda: self.shown("reasons") and laid_out(screen.ids.reasons.children))
            if (n // len(LEVELS)) % 2 == 0:
                toggles = list(reversed(screen.ids.reasons.children))
                tap(toggles[n % len(toggles)])
                pump_until(lambda: any(toggle.state == "down" for toggle in toggles))
                tap(screen.ids.submit)
            else:
                tap(screen.ids.skip)
        self._back_to_rating()

    def _switch_language(self, rating) -> None:
        button = next((w.ids["language"] for w in rating.walk(restrict=True) if "language" in w.ids), None)
        if button is None:
            return            # a UI without the language button
        locale = self.app.ui.locale
        tap(button)
        pump_until(lambda: self.app.ui.locale is not locale and laid_out(rating.ids.levels.children))
        self.switched += 1

    def _back_to_rating(self) -> None:
        """Until the service takes presses again and the screen says so. With frames slower than the
        short timers, the UI may draw only the newest of several views (as it is built to): counted.
        A cooldown whose end is never announced fails the soak: the screen would stay dimmed for good
        (Kivy's Clock fires up to 5 ms early; the service arms its timer again for what is left)."""
        from kivy.base import EventLoop

        deadline, late_frames = time.monotonic() + 10.0, 0
        while not self.ready():
            if time.monotonic() > deadline:
                raise AssertionError("not back on the rating screen within 10 s")
            frame_started = time.monotonic()
            EventLoop.idle()
            # A whole frame began after the cooldown's end, so its timer was due in it, yet the service
            # still says "wait": nothing will announce the end.
            view = self.service.view
            if view.state.name == "AWAITING" and not view.accepting and self.shown("rating") \
                    and frame_started > self.service._cooldown_until:   # read only, to detect the stall
                late_frames += 1
                if late_frames > 3:
                    raise AssertionError("the cooldown's end was never announced: the level buttons stay dimmed")

    def close(self, cycles: int) -> None:
        assert self.store.count_ratings() == cycles, (self.store.count_ratings(), cycles)
        assert self.store.verify().ok
        self.app.on_stop()
        self.window.remove_widget(self.root)
        self.store.close()


def sample(cycle: int, elapsed_s: float) -> Sample:
    """RSS first (the census below allocates), then live textures and Kivy's cache entries.

    The census walks what the garbage collector sees: the terminal freezes everything its start-up
    built out of that view (kiosk.devices.heap.freeze_startup), so textures and objects are those made
    since. What was frozen can only go, never grow: growth still shows."""
    from kivy.cache import Cache
    from kivy.graphics.texture import Texture

    from kiosk.devices.heap import HeapUsage, usage

    rss, hwm = proc_status_mb("VmRSS", "VmHWM")
    heap = usage() or HeapUsage(0.0, 0.0)
    gc.collect()
    objects = gc.get_objects()
    by_size = Counter((type(o).__name__, o.width, o.height) for o in objects if isinstance(o, Texture))
    result = Sample(cycle, elapsed_s, rss, hwm, sum(by_size.values()), by_size,
                    {category: len(entries) for category, entries in Cache._objects.items()}, len(objects),
                    Counter(type(o).__qualname__ for o in objects), *heap)
    del objects
    return result


def run_soak(cycles: int, folder: Path, size, trace: bool, baseline: list[Sample]) -> tuple[list[Sample], list]:
    """The cycles, a table row printed at each checkpoint as it is taken."""
    if trace:
        import tracemalloc

        tracemalloc.start(12)
    terminal = Terminal(folder, size)
    total, marks, samples, snapshots = WARMUP + cycles, checkpoints(WARMUP + cycles), [], []
    base_at = {s.cycle: s for s in baseline}
    print(f"\nsoak: {cycles} rating cycles after {WARMUP} warm-up, offscreen window {terminal.window.size}, "
          f"levels {LEVELS} (2 and 1 via the reasons screen), thanks {FAST['thanks_s']} s, "
          f"cooldown {FAST['cooldown_s']} s, file store in {folder}"
          + ("\n--trace: RSS includes tracemalloc's traces and the snapshot kept from the warm-up" if trace else ""))
    print(f"{'cycle':>6} {'time s':>7} {'RSS MB':>8} {'ΔRSS':>7} {'HWM MB':>8} │ {'service-only':>12} {'Δ':>6} │ "
          f"{'textures':>8} {'cache':>6} {'gc objects':>10} │ {'heap used':>9} {'free':>6}", flush=True)
    started = time.monotonic()
    for n in range(total + 1):
        if n in marks:
            samples.append(sample(n, time.monotonic() - started))
            print_row(samples, base_at)
            if trace and n in (WARMUP, total):
                snapshots.append(tracemalloc.take_snapshot())
        if n < total:
            try:
                terminal.cycle(n)
            except AssertionError as exc:
                raise AssertionError(f"cycle {n}: {exc}; service {terminal.service.view}; screen "
                                     f"{terminal.manager.current}, {terminal.manager.current_screen.model}") from exc
    print(f"drawn: thanks in {terminal.thanked} of {total} cycles, the dimmed rating screen (cooldown) in "
          f"{terminal.dimmed}, English first in {terminal.switched}")
    terminal.close(total)
    return samples, snapshots


def print_row(samples: list[Sample], base_at: dict[int, Sample]) -> None:
    s, warm = samples[-1], next((x for x in samples if x.cycle == WARMUP), samples[-1])
    b, base_warm = base_at[s.cycle], base_at[warm.cycle]
    print(f"{s.cycle:6} {s.elapsed_s:7.1f} {s.rss_mb:8.2f} {s.rss_mb - warm.rss_mb:+7.2f} {s.hwm_mb:8.2f} │ "
          f"{b.rss_mb:12.2f} {b.rss_mb - base_warm.rss_mb:+6.2f} │ {s.textures:8} {sum(s.caches.values()):6} "
          f"{s.objects:10} │ {s.heap_used_mb:9.2f} {s.heap_free_mb:6.2f}", flush=True)


# -- report ------------------------------------------------------------------------------------------


def print_census(samples: list[Sample]) -> None:
    warm, end = next(s for s in samples if s.cycle == WARMUP), samples[-1]
    print("Kivy Cache entries (after warm-up → end): " + ", ".join(
        f"{category} {warm.caches.get(category, 0)}→{count}" for category, count in sorted(end.caches.items())))
    grown, gone = end.by_size - warm.by_size, warm.by_size - end.by_size
    print(f"live textures by (type, w, h): {len(end.by_size)} kinds; grown since warm-up: "
          f"{dict(grown.most_common(8)) or 'none'}; gone: {dict(gone.most_common(8)) or 'none'}")
    print(f"gc-tracked objects by type, grown since warm-up: {dict((end.by_type - warm.by_type).most_common(10))}")


def print_trace(snapshots: list) -> None:
    """What Python allocated between the warm-up and the end and still holds: by line, then the top
    three with their callers (the bench's own samples show up too)."""
    import tracemalloc

    if len(snapshots) == 2:
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")]
        before, after = (snap.filter_traces(ignore) for snap in snapshots)
        print("tracemalloc, after warm-up → end, top growth:")
        for stat in after.compare_to(before, "lineno")[:12]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7} blocks  {stat.traceback[0]}")
        for stat in after.compare_to(before, "traceback")[:3]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB from\n    " + "\n    ".join(stat.traceback.format(limit=6)))


def judge(samples: list[Sample], baseline: list[Sample], start_worst_s: float | None, trace: bool) -> int:
    warm = next(s for s in samples if s.cycle == WARMUP)
    run_s = samples[-1].elapsed_s - warm.elapsed_s
    after = [s for s in samples if s.cycle >= WARMUP]
    end, cycles = samples[-1], samples[-1].cycle - WARMUP
    drift, peak = end.rss_mb - warm.rss_mb, max(s.rss_mb for s in after) - warm.rss_mb
    hwm_drift = end.hwm_mb - warm.hwm_mb
    base_warm = next(s for s in baseline if s.cycle == WARMUP)
    base_drift = baseline[-1].rss_mb - base_warm.rss_mb
    textures = end.textures - warm.textures
    print(f"{cycles} cycles after {WARMUP} warm-up in {run_s:.1f} s ({cycles / run_s:.1f} cycles/s through the UI)")
    print(f"RSS drift {drift:+.2f} MB (end − after warm-up), peak {peak:+.2f} MB, VmHWM {hwm_drift:+.2f} MB; "
          f"service+store alone {base_drift:+.2f} MB → the UI adds {drift - base_drift:+.2f} MB  "
          f"(goal ≤ {GOAL_DRIFT_MB} MB)")
    print(f"live textures {warm.textures} → {end.textures} ({textures:+d}); Kivy Cache entries "
          f"{sum(warm.caches.values())} → {sum(end.caches.values())}; gc objects {end.objects - warm.objects:+d}"
          "  (goal: no growth)")
    met = textures <= 0 and (trace or max(drift, peak, hwm_drift) <= GOAL_DRIFT_MB)
    if trace:
        print("--trace: the RSS goal is not judged (tracemalloc's own memory is in it)")
    if start_worst_s is not None:
        print(f"cold start to first frame, worst of {START_RUNS}: {start_worst_s:.3f} s  (goal ≤ {GOAL_START_S} s)")
        met = met and start_worst_s <= GOAL_START_S
    print("goals met" if met else "GOALS MISSED")
    return 0 if met else 1


def _size(text: str) -> tuple[int, int]:
    width, height = (int(part) for part in text.lower().split("x"))
    return width, height


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=CYCLES,
                        help=f"cycles after the warm-up, rounded up to whole checkpoints of {EVERY} (default {CYCLES})")
    parser.add_argument("--quick", action="store_true", help=f"{2 * EVERY} cycles")
    parser.add_argument("--trace", action="store_true", help="tracemalloc diffs (slower; inflates RSS)")
    parser.add_argument("--no-start", action="store_true", help="skip the cold-start measurement")
    parser.add_argument("--start-only", action="store_true", help="only the cold-start measurement")
    parser.add_argument("--size", type=_size, help="soak window WxH (default: the config's, 1280x800)")
    parser.add_argument("--start-child", choices=("app", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--service-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.start_child:
        start_child(args.start_child, args.config)
        return 0
    if args.service_child is not None:
        service_child(args.service_child, args.folder)
        return 0
    cycles, began = (2 * EVERY if args.quick else -(-args.cycles // EVERY) * EVERY), time.monotonic()
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        scratch = Path(tmp)
        os.environ.setdefault("KIVY_HOME", str(scratch / "kivy-home"))
        start_worst = None if args.no_start else cold_start(scratch)
        if args.start_only:
            met = start_worst is not None and start_worst <= GOAL_START_S
            print(f"cold start to first frame, worst of {START_RUNS}: {start_worst:.3f} s  (goal ≤ {GOAL_START_S} s)")
            print("goal met" if met else "GOAL MISSED")
            return 0 if met else 1
        baseline = service_baseline(cycles, scratch / "service")
        (scratch / "ui").mkdir()
        samples, snapshots = run_soak(cycles, scratch / "ui", args.size, args.trace, baseline)
    print_census(samples)
    print_trace(snapshots)
    code = judge(samples, baseline, start_worst, args.trace)
    print(f"whole bench took {time.monotonic() - began:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
