"""Outbox → signed batches → ack → mark synced, with backoff.

`Uploader.drain()` sends batches until the queue is empty. `SyncAttempt` is one
sync, whichever path makes it (the worker, `evaluator sync --once`, the
technician's upload button): a drain, the centre's config, a heartbeat, and its
outcome recorded. `SyncWorker` makes one again and again in its own process: at
once when a bad review waits, otherwise every `interval_s` (± `interval_jitter`);
after a transient fault it waits an exponential backoff with full jitter, or the
centre's Retry-After and a random part of it; after an auth failure it stops
uploading and reports until the device is provisioned again. Every wait is drawn
at random, the first after start too (`start_spread_s`): terminals that start or
come back together (a city's power or network returning) never act in step.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contract import GENESIS_HASH, PROTOCOL_VERSION, Ack, Heartbeat, canonical_json, canonical_object, iso_utc
from kiosk import __version__
from kiosk.config import Settings, SyncSettings
from kiosk.store import RatingStore, StorageError
from kiosk.store.callbacks import CallbackQueue
from kiosk.store.outbox import Cursor, EncodedBatch, Outbox
from kiosk.store.status import panel_status
from kiosk.store.sync_state import raise_anchor, read_sync_status, record_attempt, verify_store
from sync.client import AuthError, CentreClient, Credentials, GzipBody, SyncError, TransientError, enrolled_client
from sync.provision import ConfigPath, ConfigRejected, refresh_config

log = logging.getLogger(__name__)

VERIFY_EVERY_S = 3600.0
# (ratings sent so far, ratings queued at start), called once each batch's ack is applied (the next batch
# may be in flight meanwhile); if it raises, the drain stops once the acks already received are applied.
Progress = Callable[[int, int], None]


@dataclass
class DrainResult:
    batches: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    callbacks_delivered: int = 0           # call-back numbers the centre now holds (erased here)
    callbacks_refused: dict[str, str] = field(default_factory=dict)   # kept until retention ends


@dataclass(frozen=True)
class _Prepared:
    batch: EncodedBatch
    body: GzipBody      # all but sent_at, which is taken when the batch is sent


@dataclass(frozen=True)
class _Judged:
    """What one ack means for the batch it answers; worked out before anything is marked."""

    batch: EncodedBatch
    synced: list[str]
    rejected: dict[str, str]
    reason_ids: set[int]
    event_ids: set[int]
    accepted: int
    duplicate: int


class Uploader:
    def __init__(self, outbox: Outbox, client: CentreClient, device_id: str, batch_size: int = 500) -> None:
        self._outbox = outbox
        self._client = client
        self._device_id = device_id
        self._batch_size = batch_size
        self._callbacks = CallbackQueue(outbox.store)

    def drain(self, progress: Progress | None = None) -> DrainResult:
        """Send until nothing is pending; raises SyncError (the batch in flight stays pending).

        One request is in flight at a time, as in a plain loop: the next batch goes only once the
        previous ack is in, so the centre and every fault see the same requests in the same order.
        What overlaps is the device's own work: while a batch is in flight, one helper thread marks
        the previous ack's rows and reads, encodes and gzips the next batch (by cursor, so the read
        need not wait for the marks). Every ack received is applied before drain returns or raises; the
        rows of an ack not yet applied are still pending, so at worst they go again as duplicates.
        """
        result, total = DrainResult(), self._outbox.depth().ratings
        with ThreadPoolExecutor(1, thread_name_prefix="outbox") as helper:
            reading = helper.submit(self._prepare, Cursor())
            marking: Future[_Judged] | None = None
            while prepared := reading.result():
                reading = helper.submit(self._prepare, prepared.batch.after)
                judged = self._judge(prepared.batch, self._send(prepared))
                previous, marking = marking, helper.submit(self._mark, judged)
                if previous is not None:
                    self._count(previous.result(), result, progress, total)
            if marking is not None:
                self._count(marking.result(), result, progress, total)
        self._send_callbacks(result)
        return result

    def _send_callbacks(self, result: DrainResult) -> None:
        """After the ratings (the centre joins each call-back to its rating): send, then erase what it holds.

        A refused request stays on the device until the next drain or its retention ends; the cursor
        (`after`) makes one drain try each request once, so a refused one cannot loop.
        """
        after = 0
        while pending := self._callbacks.pending(self._batch_size, after_id=after):
            after = pending[-1].id
            ack = self._client.callbacks({"protocol": PROTOCOL_VERSION, "device_id": self._device_id,
                                          "sent_at": iso_utc(datetime.now(UTC)),
                                          "callbacks": [callback.wire() for callback in pending]})
            sent = {callback.id for callback in pending}
            result.callbacks_delivered += self._callbacks.delivered(set(ack.stored) & sent)
            refused = {item.id: item.reason for item in ack.rejected}
            if refused:
                log.warning("centre refused %d call-back request(s), kept until retention ends: %s", len(refused),
                            "; ".join(f"{key}: {why}" for key, why in list(refused.items())[:3]))
                result.callbacks_refused.update(refused)

    def _prepare(self, after: Cursor) -> _Prepared | None:
        """On the helper thread: the next batch, read, encoded and gzipped but for its last member."""
        batch = self._outbox.next_encoded(self._batch_size, after)
        if not batch:
            return None
        # The rows go as stored, unvalidated: the centre judges each one, and a row it
        # rejects comes back with its reason. Validating here would let one odd row
        # (say, a case number a counter PC garbled) stop the whole queue on the device.
        # A rating's item_code is a member only when it has one (kiosk.store.outbox): a centre of the previous
        # release forbids unknown keys, and still accepts every rating without an item code.
        members = canonical_object({
            "protocol": canonical_json(PROTOCOL_VERSION), "device_id": canonical_json(self._device_id),
            "ratings": batch.ratings_json, "reasons": canonical_json(batch.reasons),
            "events": canonical_json(batch.events)})
        # sent_at sorts after every other member: appended when sending, the body is still canonical JSON.
        return _Prepared(batch, GzipBody(members[:-1] + b',"sent_at":'))

    def _send(self, prepared: _Prepared) -> Ack:
        sent_at = canonical_json(iso_utc(datetime.now(UTC)))
        return self._client.ingest_gzipped(prepared.body.finish(sent_at + b"}"))

    @staticmethod
    def _judge(batch: EncodedBatch, ack: Ack) -> _Judged:
        # Mark only what this batch carried: an ack naming other ids is ignored, not trusted.
        sent = set(batch.uuids)
        synced = [uuid for uuid in ack.accepted + ack.duplicate if uuid in sent]
        rejected = {item.id: item.reason for item in ack.rejected if item.id in sent}
        reason_ids = set(ack.reasons) & {reason["id"] for reason in batch.reasons}
        event_ids = set(ack.events) & {event["id"] for event in batch.events}
        if not (synced or rejected or reason_ids or event_ids):
            raise SyncError("the centre acknowledged nothing of a non-empty batch")
        return _Judged(batch, synced, rejected, reason_ids, event_ids, accepted=len(set(ack.accepted) & sent),
                       duplicate=len(set(ack.duplicate) & sent))

    def _mark(self, judged: _Judged) -> _Judged:
        """On the helper thread: the one write of an ack (two when the centre rejected some ratings)."""
        everything = len(set(judged.synced)) == len(judged.batch.uuids)
        self._outbox.mark_synced(judged.synced, judged.reason_ids, judged.event_ids,
                                 seq_range=judged.batch.seqs if everything else None)
        if judged.rejected:
            log.warning("centre rejected %d rating(s), kept on the device: %s", len(judged.rejected),
                        "; ".join(f"{uuid}: {why}" for uuid, why in list(judged.rejected.items())[:3]))
            self._outbox.mark_rejected(judged.rejected)
        return judged

    @staticmethod
    def _count(judged: _Judged, result: DrainResult, progress: Progress | None, total: int) -> None:
        result.batches += 1
        result.accepted += judged.accepted
        result.duplicate += judged.duplicate
        result.rejected.update(judged.rejected)
        if progress is not None:
            progress(result.accepted + result.duplicate + len(result.rejected), total)


# One generator per process, seeded from the OS: terminals started together still draw apart.
_JITTER_RNG = random.Random()


def full_jitter(attempt: int, base_s: float, cap_s: float, rng: random.Random = _JITTER_RNG) -> float:
    """AWS's full jitter: uniform in [0, min(cap, base·2^attempt)], so devices never retry in step."""
    return rng.uniform(0, min(cap_s, base_s * 2 ** attempt))


def after_retry_after(retry_after_s: float, share: float, max_extra_s: float,
                      rng: random.Random = _JITTER_RNG) -> float:
    """The centre's Retry-After and a random extra, uniform in [0, min(share × it, max_extra_s)]: never sooner
    than asked, and terminals told the same whole second (a busy centre tells many at once) come apart."""
    return retry_after_s + rng.uniform(0, min(share * retry_after_s, max_extra_s))


def interval_wait(interval_s: float, share: float, rng: random.Random = _JITTER_RNG) -> float:
    """The wait between drains: `interval_s` × (1 ± up to `share`), drawn anew each time."""
    return interval_s * (1 + rng.uniform(-share, share))


def start_wait(sync: SyncSettings, rng: random.Random = _JITTER_RNG) -> float:
    """The wait before the sync process's first drain: uniform in [0, min(start_spread_s, interval_s)]."""
    return rng.uniform(0, min(sync.start_spread_s, sync.interval_s))


def transient_wait(exc: TransientError, attempt: int, sync: SyncSettings, rng: random.Random = _JITTER_RNG) -> float:
    """How long the worker waits after its `attempt`-th transient fault in a row (the one policy, which the
    load benchmarks' simulated terminals call too)."""
    if exc.retry_after_s is not None:
        return after_retry_after(exc.retry_after_s, sync.retry_after_jitter, sync.retry_after_jitter_max_s, rng)
    return full_jitter(attempt, sync.backoff_base_s, sync.backoff_cap_s, rng)


class SyncAttempt:
    """One sync attempt, whichever path makes it: the worker's loop, `evaluator sync --once`, the technician's
    upload button. It drains the outbox, pulls the centre's config and sends a heartbeat; then, failed or not,
    raises the anchor to what the centre acknowledged and records the outcome in the sync status file
    (kiosk.store.sync_state), which `evaluator status`, the technician screen and the next heartbeat read."""

    def __init__(self, settings: Settings, store: RatingStore, config_path: ConfigPath | None = None) -> None:
        """`config_path`: the config.yaml a config pulled from the centre must validate with."""
        self._settings = settings
        self._store = store
        self._outbox = Outbox(store)
        self._config_path = config_path
        self._callbacks = CallbackQueue(store)
        self.last_error: str | None = None
        offset = read_sync_status(settings.sync.state_dir).get("clock_offset_s")
        # Measured from the previous answer's server_time, maybe by another process: the status file keeps it.
        self.clock_offset_s: float | None = float(offset) if isinstance(offset, int | float) else None
        self._verified: tuple[float, bool] | None = None   # (monotonic time, result) of the last chain walk
        # The newest call-back request the last drain saw (the worker wakes for a newer one).
        self.callbacks_seen: str | None = None

    def run(self, progress: Progress | None = None) -> DrainResult:
        """Raises what stopped it (SyncError, StorageError, …) once the outcome is recorded."""
        attempted = datetime.now(UTC)
        try:
            result = self._cycle(progress)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._record(attempted, succeeded=False)
            raise
        self._record(attempted, succeeded=True)
        return result

    def _cycle(self, progress: Progress | None) -> DrainResult:
        sync = self._settings.sync
        credentials, client = enrolled_client(sync)
        try:
            self.callbacks_seen = self._callbacks.newest()
            result = Uploader(self._outbox, client, credentials.device_id, sync.batch_size).drain(progress)
            if result.batches:
                log.info("sent %d batch(es): %d accepted, %d duplicate, %d rejected", result.batches,
                         result.accepted, result.duplicate, len(result.rejected))
            if result.callbacks_delivered:
                log.info("%d call-back request(s) delivered and erased here", result.callbacks_delivered)
            self.last_error = None
            try:
                if refresh_config(client, credentials, sync.state_dir, self._config_path):
                    log.info("new config from the centre in %s; the terminal uses it from its next start",
                             sync.state_dir)
            except ConfigRejected as exc:      # uploads go on; the heartbeat tells the centre
                log.warning("sync: %s", exc)
                self.last_error = str(exc)
            self._beat(client, credentials)
            return result
        finally:
            client.close()

    def _record(self, attempted: datetime, succeeded: bool) -> None:
        """The anchor first (the acks applied count even when the attempt failed later), then the outcome."""
        state_dir = self._settings.sync.state_dir
        try:
            raise_anchor(self._store, state_dir)
        except (OSError, StorageError) as exc:
            log.warning("cannot raise the sync anchor: %s", exc)
        try:
            record_attempt(state_dir, attempted, succeeded=succeeded, error=self.last_error,
                           clock_offset_s=self.clock_offset_s)
        except OSError as exc:
            log.warning("cannot write the sync status: %s", exc)

    def _beat(self, client: CentreClient, credentials: Credentials) -> None:
        depth = self._outbox.depth()
        last = self._store.recent_ratings(1)
        offset = client.heartbeat(Heartbeat(
            device_id=credentials.device_id, sent_at=iso_utc(datetime.now(UTC)), app_version=__version__,
            queue_depth=depth.ratings, oldest_unsynced_at=depth.oldest_rating_at,
            last_seq=last[0]["seq"] if last else 0, last_hash=last[0]["hash"] if last else GENESIS_HASH,
            verify_ok=self._verify_ok(), clock_offset_s=self.clock_offset_s, panel=panel_status(self._store),
            last_error=self.last_error))
        if offset is not None:
            self.clock_offset_s = round(offset, 3)

    def _verify_ok(self) -> bool:
        """The device's own check (chain and anchor), walked at most hourly (it reads every rating)."""
        if self._verified is None or time.monotonic() - self._verified[0] > VERIFY_EVERY_S:
            self._verified = (time.monotonic(), verify_store(self._store, self._settings.sync.state_dir).ok)
        return self._verified[1]


class SyncWorker:
    """The `evaluator sync` process: a SyncAttempt, again and again; backs off after a fault; stops on `stop`."""

    def __init__(self, settings: Settings, store: RatingStore, stop: threading.Event,
                 config_path: ConfigPath | None = None) -> None:
        """`config_path`: the config.yaml a config pulled from the centre must validate with."""
        self._settings = settings
        self._outbox = Outbox(store)
        self._stop = stop
        self._attempt = SyncAttempt(settings, store, config_path)
        self._logged: str | None = None
        self._callbacks = CallbackQueue(store)

    @property
    def last_error(self) -> str | None:
        return self._attempt.last_error

    @property
    def clock_offset_s(self) -> float | None:
        return self._attempt.clock_offset_s

    def run(self) -> None:
        sync = self._settings.sync
        attempt = 0
        # Not woken by a bad review: after a power cut every terminal's backlog holds one.
        self._wait(start_wait(sync), wake_early=False)
        while not self._stop.is_set():
            try:
                self._attempt.run()
                attempt, wait = 0, interval_wait(sync.interval_s, sync.interval_jitter)
                self._logged = None
            except TransientError as exc:
                attempt += 1
                wait = transient_wait(exc, attempt, sync)
                self._log(f"{exc}; retrying in {wait:.1f} s")
            except (AuthError, SyncError, StorageError) as exc:
                # Auth: nothing will work until a technician re-provisions; others: a bug or
                # a broken disk. Either way, report and try again only rarely.
                wait = sync.backoff_cap_s
                self._log(f"{type(exc).__name__}: {exc}; next try in {wait:.0f} s")
            except Exception as exc:  # a bug must not end an unattended worker: report it, try again later
                log.exception("sync: unexpected error")
                wait = sync.backoff_cap_s
                self._log(f"unexpected {type(exc).__name__}: {exc}; next try in {wait:.0f} s")
            self._wait(wait, wake_early=attempt == 0 and self.last_error is None)

    def _wait(self, seconds: float, wake_early: bool) -> None:
        """Sleep until the next drain, but wake for a bad review or a new call-back request (sent at once) or stop.

        A call-back request made after the last drain is sent at once, like a bad review: it is left after that
        review, so the review's own upload has usually gone without it. (Refused ones stay held until their
        retention ends, so "any held" would wake every poll.) After a fault the backoff is honoured even for
        bad reviews: hammering a struggling centre would not get them there sooner.
        """
        poll = self._settings.sync.bad_review_poll_s
        remaining = seconds
        while remaining > 0 and not self._stop.wait(min(poll, remaining)):
            remaining -= poll
            try:
                if wake_early and (self._outbox.has_pending_level(self._settings.bad_levels)
                                   or self._callbacks.any_newer_than(self._attempt.callbacks_seen)):
                    return
            except StorageError:
                pass

    def _log(self, message: str) -> None:
        if message != self._logged:
            log.warning("sync: %s", message)
        self._logged = message
