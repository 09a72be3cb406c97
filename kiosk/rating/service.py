"""RatingService: the rating-session state machine. No Kivy, no hardware.

It alone decides whether a press counts (一次一评, cooldown, windows) and it
commits a counted press through the store *before* anyone hears of it: the
listeners (screen, panel lights) only ever learn of ratings already on disk.
A press that does not count is recorded as an event with the reason, and a
request that nobody answers is recorded as *unrated*, never as a rating.

Inputs arrive from any thread (touch on the UI thread, panel keys on the
reader thread, timers on the scheduler's); one lock serialises them, and
listeners are called after it is released.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from kiosk.config import Mode, Settings
from kiosk.rating.listeners import Listeners
from kiosk.rating.outage import Outage
from kiosk.rating.session import (
    CallbackOutcome,
    PressOutcome,
    RatingListener,
    Request,
    State,
    SuppressReason,
    View,
    ViewListener,
)
from kiosk.rating.steps import Steps
from kiosk.scheduling import Cancellable, Scheduler, ThreadScheduler
from kiosk.store import RatingStore, StorageError, StoredRating
from kiosk.store.callbacks import CallbackQueue, CallbackSweeper
from kiosk.store.tables import Channel, EventKind

__all__ = ["CallbackOutcome", "Cancellable", "PressOutcome", "RatingService", "Request", "Scheduler", "State",
           "SuppressReason", "ThreadScheduler", "View"]  # the session's values, importable from here as before

log = logging.getLogger(__name__)


class RatingService:
    def __init__(self, settings: Settings, store: RatingStore, scheduler: Scheduler,
                 monotonic: Callable[[], float] = time.monotonic, ask_reasons: bool = True):
        """`ask_reasons`: False for terminals without a screen, where nobody could answer."""
        self._settings = settings
        self._ask_reasons = ask_reasons and bool(settings.bad_reasons)
        self._store = store
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._cooldown_until = float("-inf")
        self._outage = Outage(store)
        self._steps = Steps(scheduler, self._lock, self._publish)
        self._view = View(state=self._resting_state(), mode=settings.mode,
                          accepting=settings.mode is Mode.OPEN, staff_id=settings.counter.staff_id)
        self._view_listeners = Listeners[View]()
        self._rating_listeners = Listeners[StoredRating]()
        callback = settings.citizen.callback
        self._callbacks = CallbackQueue(store)
        self._sweeper = CallbackSweeper(self._callbacks, scheduler, callback.purge_interval_s, callback.retention_days)

    # -- observation -------------------------------------------------------

    @property
    def view(self) -> View:
        return self._view

    def add_view_listener(self, listener: ViewListener) -> None:
        self._view_listeners.add(listener)

    def add_rating_listener(self, listener: RatingListener) -> None:
        self._rating_listeners.add(listener)

    # -- life cycle --------------------------------------------------------

    def start(self) -> None:
        """Record the start, and any change of mode or config since the last one."""
        mode, digest = self._settings.mode.value, self._settings.digest()
        with self._lock:
            try:
                last = self._store.last_event(EventKind.STARTED)
            except StorageError as exc:
                last = None
                self._fail(exc)  # starts out of service; the probe records the outage later
            previous = last["detail"] if last else {}
            if self._view.state is not State.OUT_OF_SERVICE and self._record_or_fail(
                    EventKind.STARTED, mode=mode, config=digest, staff_id=self._view.staff_id):
                if previous and previous.get("mode") != mode:
                    self._record_or_fail(EventKind.MODE_CHANGED, previous=previous.get("mode"), current=mode)
                if previous and previous.get("config") != digest:
                    self._record_or_fail(EventKind.CONFIG_CHANGED, previous=previous.get("config"), current=digest)
        self._sweeper.start()   # erases expired call-back numbers now and every purge_interval_s
        self._publish()

    def stop(self) -> None:
        self._sweeper.stop()
        with self._lock:
            self._steps.cancel()
            if self._view.state is not State.OUT_OF_SERVICE:
                self._try_record(EventKind.STOPPED)

    # -- inputs --------------------------------------------------------------

    def press(self, level: int, channel: Channel) -> PressOutcome:
        """A rating key was pressed (touch, panel or keyboard)."""
        if not 1 <= level <= 5:
            raise ValueError(f"level must be 1…5, got {level}")
        with self._lock:
            outcome, rating = self._press_locked(level, channel)
        if rating is not None:
            self._announce(rating)
        self._publish()
        return outcome

    def solicit(self, case_no: str | None = None, staff_id: str | None = None, source: str = "staff_key",
                item_code: str | None = None) -> bool:
        """Open a request for exactly one rating; False when the terminal is out of service. `item_code`: the
        service item (事项编码) the counter PC's C frame named, kept with the rating or its unrated event."""
        with self._lock:
            view = self._view
            if view.state is State.OUT_OF_SERVICE:
                return False
            if view.state is State.AWAITING and view.request is not None:
                self._close_unrated(view.request)  # the previous service was never rated
            elif view.state is State.REASONS:
                self._finish_reasons(timed_out=False)
            elif view.state is State.CALLBACK:
                self._steps.cancel()     # the next service starts: the unsent number is dropped
            request = Request(case_no=case_no, staff_id=staff_id, source=source, item_code=item_code)
            if self._record_or_fail(EventKind.SOLICITED, case_no=case_no, item_code=item_code, staff_id=staff_id,
                                    source=source):
                self._cooldown_until = float("-inf")  # a new service: the last citizen's cooldown is over
                self._enter(State.AWAITING, request=request, rating=None)
                self._steps.arm(self._settings.timings.solicit_window_s, self._window_closed)
        self._publish()
        return self._view.state is not State.OUT_OF_SERVICE

    def toggle_reason(self, code: str) -> None:
        with self._lock:
            if self._view.state is not State.REASONS:
                return
            if code not in {reason.code for reason in self._settings.bad_reasons}:
                raise ValueError(f"unknown reason code {code!r}")
            self._view = replace(self._view, selected_reasons=self._view.selected_reasons ^ {code})
        self._publish()

    def submit_reasons(self) -> None:
        """The citizen is done with the reason step (with or without reasons)."""
        with self._lock:
            if self._view.state is State.REASONS:
                self._finish_reasons(timed_out=False)
        self._publish()

    @property
    def offers_callback(self) -> bool:
        return self._ask_reasons and self._settings.citizen.callback.enabled

    def open_callback(self) -> None:
        """From the reason step: keep the reasons picked so far, then ask for a number."""
        with self._lock:
            if self._view.state is State.REASONS and self.offers_callback and self._store_reasons(timed_out=False):
                self._enter(State.CALLBACK, request=self._view.request, rating=self._view.rating)
                self._steps.arm(self._settings.timings.reason_timeout_s, self._callback_timed_out)
        self._publish()

    def callback_activity(self) -> None:
        """A tap on the call-back screen: the step's timeout counts from the last one."""
        with self._lock:
            if self._view.state is State.CALLBACK:
                self._steps.next()
                self._steps.arm(self._settings.timings.reason_timeout_s, self._callback_timed_out)

    def submit_callback(self, phone: str, consented: bool, consent_version: str) -> CallbackOutcome:
        """Store a call-back request for the rating being thanked for; only with consent, only a valid number."""
        with self._lock:
            view = self._view
            if view.state is not State.CALLBACK or view.rating is None:
                return CallbackOutcome.NOT_OPEN
            if not consented:
                return CallbackOutcome.NO_CONSENT
            try:
                self._callbacks.add(view.rating.uuid, phone, consent_version)
            except ValueError:
                return CallbackOutcome.INVALID
            except StorageError as exc:
                self._fail(exc)
                outcome = CallbackOutcome.OUT_OF_SERVICE
            else:
                self._thank(view.rating, callback_left=True)
                outcome = CallbackOutcome.STORED
        self._publish()
        return outcome

    def cancel_callback(self) -> None:
        with self._lock:
            if self._view.state is State.CALLBACK and self._view.rating is not None:
                self._thank(self._view.rating)
        self._publish()

    def record(self, kind: EventKind, **detail: object) -> None:
        """Record a non-rating event (panel hello, connection); storage failure → out of service."""
        with self._lock:
            self._record_or_fail(kind, **detail)
        self._publish()

    def skip_reasons(self) -> None:
        """The citizen declines to give reasons: whatever was ticked is dropped."""
        with self._lock:
            if self._view.state is State.REASONS:
                self._view = replace(self._view, selected_reasons=frozenset())
                self._finish_reasons(timed_out=False)
        self._publish()

    def sign_in(self, staff_id: str, source: str = "counter") -> None:
        """`staff_id` serves at this counter from now on; `source`: the counter PC's `I` line, or "screen" (the
        staff member's own button after a PIN sign-in)."""
        with self._lock:
            if self._record_or_fail(EventKind.STAFF_SIGN_IN, staff_id=staff_id, source=source):
                self._view = replace(self._view, staff_id=staff_id)
        self._publish()

    def sign_out(self, source: str = "counter") -> None:
        with self._lock:
            staff_id = self._view.staff_id
            if staff_id is not None and self._record_or_fail(EventKind.STAFF_SIGN_OUT, staff_id=staff_id,
                                                             source=source):
                self._view = replace(self._view, staff_id=None)
        self._publish()

    # -- transitions (lock held) -------------------------------------------

    def _press_locked(self, level: int, channel: Channel) -> tuple[PressOutcome, StoredRating | None]:
        view = self._view
        if view.state is State.OUT_OF_SERVICE:
            return PressOutcome.OUT_OF_SERVICE, None
        why = self._suppression(view)
        if why is not None:
            recorded = self._record_or_fail(EventKind.SUPPRESSED, level=level, channel=channel.value, why=why.value)
            return (PressOutcome.SUPPRESSED if recorded else PressOutcome.OUT_OF_SERVICE), None
        request = view.request
        try:
            rating = self._store.append_rating(
                level, channel, self._settings.mode.value,
                staff_id=request.credited(view.staff_id) if request else view.staff_id,
                case_no=request.case_no if request else None, item_code=request.item_code if request else None)
        except StorageError as exc:
            self._fail(exc)
            return PressOutcome.OUT_OF_SERVICE, None
        self._cooldown_until = self._monotonic() + self._settings.timings.cooldown_s
        if level in self._settings.bad_levels and self._ask_reasons:
            self._enter(State.REASONS, request=None, rating=rating)
            self._steps.arm(self._settings.timings.reason_timeout_s, self._reasons_timed_out)
        else:
            self._thank(rating)
        return PressOutcome.COUNTED, rating

    def _suppression(self, view: View) -> SuppressReason | None:
        if view.state in (State.REASONS, State.CALLBACK, State.THANKS):
            return SuppressReason.ALREADY_RATED
        if view.state is State.IDLE:
            return SuppressReason.NOT_REQUESTED
        if view.request is None and self._monotonic() < self._cooldown_until:
            return SuppressReason.COOLDOWN
        return None

    def _thank(self, rating: StoredRating, callback_left: bool = False) -> None:
        self._enter(State.THANKS, request=None, rating=rating, callback_left=callback_left)
        self._steps.arm(self._settings.timings.thanks_s, self._thanks_over)

    def _finish_reasons(self, timed_out: bool) -> None:
        if self._store_reasons(timed_out):
            assert self._view.rating is not None
            self._thank(self._view.rating)

    def _store_reasons(self, timed_out: bool) -> bool:
        rating, codes = self._view.rating, sorted(self._view.selected_reasons)
        assert rating is not None
        try:
            self._store.add_reasons(rating.uuid, codes)
            if timed_out:
                self._store.record_event(EventKind.REASONS_TIMEOUT, rating_uuid=rating.uuid, kept=len(codes))
        except StorageError as exc:
            self._fail(exc)  # the rating itself is already safe
            return False
        return True

    def _close_unrated(self, request: Request) -> None:
        # Credited like the rating would have been.
        self._record_or_fail(EventKind.UNRATED, case_no=request.case_no, item_code=request.item_code,
                             staff_id=request.credited(self._view.staff_id), source=request.source)

    def _rest(self) -> None:
        """Back to the state the mode rests in, with any cooldown still honoured."""
        self._enter(self._resting_state(), request=None, rating=None)
        self._await_cooldown()

    def _await_cooldown(self) -> None:
        """Arm the timer that ends a cooldown the view is waiting out.

        Keyed on the view, not on a second reading of the clock: a cooldown that ended
        between the two readings would leave a terminal that never accepts again. A
        timer that fires early (the UI's clock is not this one) arms again for the rest.
        """
        if self._view.state is State.AWAITING and not self._view.accepting:
            remaining = max(0.0, self._cooldown_until - self._monotonic())
            self._steps.wait_cooldown(remaining, self._cooldown_over)

    def _resting_state(self) -> State:
        return State.AWAITING if self._settings.mode is Mode.OPEN else State.IDLE

    def _enter(self, state: State, *, request: Request | None, rating: StoredRating | None,
               error: str | None = None, callback_left: bool = False) -> None:
        """A new step: its timers gone, no reason ticked; `request` and `rating` are named so none is kept by
        oversight (the call-back step keeps the reasons step's rating, explicitly)."""
        self._steps.next()
        view = replace(self._view, state=state, request=request, rating=rating, selected_reasons=frozenset(),
                       error=error, callback_left=callback_left)
        self._view = replace(view, accepting=self._accepting(view))

    def _accepting(self, view: View) -> bool:
        return self._suppression(view) is None and view.state is State.AWAITING

    # -- step ends (lock held) -----------------------------------------------

    def _window_closed(self) -> None:
        request = self._view.request
        if request is not None:
            self._close_unrated(request)
        if self._view.state is not State.OUT_OF_SERVICE:
            self._rest()

    def _reasons_timed_out(self) -> None:
        self._finish_reasons(timed_out=True)

    def _thanks_over(self) -> None:
        self._rest()

    def _callback_timed_out(self) -> None:
        # Nobody finished the form: nothing is stored, and the next citizen sees the normal screen.
        self._rest()

    def _cooldown_over(self) -> None:
        with self._lock:
            self._view = replace(self._view, accepting=self._accepting(self._view))
            self._await_cooldown()
        self._publish()

    # -- storage failure and recovery -----------------------------------------

    def _record_or_fail(self, kind: EventKind, **detail: object) -> bool:
        try:
            self._store.record_event(kind, **detail)
            return True
        except StorageError as exc:
            self._fail(exc)
            return False

    def _try_record(self, kind: EventKind, **detail: object) -> None:
        try:
            self._store.record_event(kind, **detail)
        except StorageError as exc:
            log.warning("could not record %s: %s", kind.value, exc)

    def _fail(self, exc: StorageError) -> None:
        if self._view.state is not State.OUT_OF_SERVICE:
            log.error("storage failed, out of service: %s", exc)
        self._outage.fail(self._view)
        self._enter(State.OUT_OF_SERVICE, request=None, rating=None, error=str(exc))
        self._steps.retry(self._settings.timings.storage_retry_s, self._probe)

    def _probe(self) -> None:
        with self._lock:
            if self._view.state is not State.OUT_OF_SERVICE:
                return
            try:
                self._outage.recover(self._view.error)
            except StorageError as exc:
                self._view = replace(self._view, error=str(exc))
                self._steps.retry(self._settings.timings.storage_retry_s, self._probe)
                return
            log.warning("storage works again; back in service")
            self._rest()
        self._publish()

    # -- notification (lock released) --------------------------------------

    def _publish(self) -> None:
        self._view_listeners.tell(self._view)

    def _announce(self, rating: StoredRating) -> None:
        self._rating_listeners.tell(rating)
