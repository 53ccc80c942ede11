"""Alert notifications: `submit()` hands a group to a background dispatcher and returns at once.

The evaluator (ecc/alerts, one process holds its lease) calls `submit(engine, settings, group, transition)`
with the alerts that changed state together (API shape, docs/api.md) and "firing" | "resolved" | "repeat".
The dispatcher then
- puts ONE delivery per enabled receiver in the outbox (ecc/alerts/notify_outbox.py, metadata DB), the
  alerts with it, so a restart forgets no delivery and no retry,
- makes each attempt on a small thread pool: the receiver read again (an edit or a deletion counts), its
  secret opened (ecc/alerts/receivers_secrets.py), the message rendered in its language, a fresh
  timestamp and signature (DingTalk and Feishu refuse a timestamp over an hour old),
- retries a failed delivery with exponential backoff (ECC_NOTIFY_BACKOFF_S, doubling, at most
  ECC_NOTIFY_ATTEMPTS attempts; a retry waits in a timer heap, not on a thread, and its due time is in
  the outbox),
- writes every attempt to the delivery log (ecc/alerts/notify_log.py), in the same transaction as the
  outbox's change.
A receiver that hangs holds one pool thread for at most ECC_NOTIFY_TIMEOUT_S; one that fails never stops
the others, and nothing here ever raises into the evaluator.

After a restart (or a crash) the sweeper (`start_sweeper`, started with the web app's notify API) finds
the outbox's due rows and makes their attempts; it runs in every web process, and the outbox's claim
lets exactly one of them make each attempt (a stronger guarantee than the evaluator's lease, which two
processes may both believe they hold for a moment).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ecc import metadata
from ecc.alerts import messages, notify_log, notify_outbox, notify_send, receivers, receivers_secrets
from ecc.alerts.notify_formats import DeliveryError
from ecc.alerts.receivers_secrets import SecretBox, SecretError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    attempts: int = 5
    backoff_s: float = 5.0  # first retry after this, then doubling
    max_backoff_s: float = 600.0
    timeout_s: float = 10.0
    lang: str = "zh"
    public_url: str = ""
    smtp_url: str = ""
    smtp_from: str = ""
    box: SecretBox | None = None  # opens the receivers' secrets; None: no key (secrets cannot be opened)

    @classmethod
    def from_settings(cls, settings) -> Policy:
        if settings is None:  # an evaluator made without settings (tests, replays): the defaults
            return cls()
        return cls(attempts=max(1, settings.notify_attempts), backoff_s=settings.notify_backoff_s,
                   timeout_s=settings.notify_timeout_s, lang=settings.notify_lang,
                   public_url=settings.public_url, smtp_url=settings.smtp_url, smtp_from=settings.smtp_from,
                   box=receivers_secrets.box_for(settings))

    @property
    def hold_ms(self) -> int:
        """How long an attempt holds its outbox row: past this, its sender is presumed dead (an SMTP
        session is several exchanges, each up to the timeout)."""
        return int((3 * self.timeout_s + 30) * 1000)

    def delay(self, attempt: int) -> float:
        """Seconds before attempt `attempt + 1` after attempt `attempt` failed."""
        return min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)


class Dispatcher:
    """A timer heap and a thread pool: jobs run when due; `wait_idle` tells when nothing is left."""

    def __init__(self, workers: int = 4) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._outstanding = 0
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ecc-notify")
        self._timer = threading.Thread(target=self._run, name="ecc-notify-timer", daemon=True)
        self._timer.start()

    def schedule(self, fn: Callable[[], None], delay: float = 0.0) -> None:
        with self._cv:
            if self._closed:
                return
            self._outstanding += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), fn))
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                if self._closed:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                self._pool.submit(self._call, fn)
            except RuntimeError:  # the interpreter is shutting down: what is left stays in the outbox
                return

    def _call(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a job's bug must not kill the pool; it is in the log with its traceback
            log.exception("notification job failed")
        finally:
            with self._cv:
                self._outstanding -= 1
                self._cv.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no job is queued, waiting for a retry or running (tests, benchmark, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
            return True

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._heap.clear()
            self._cv.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)


_lock = threading.Lock()
_dispatcher: Dispatcher | None = None
_owner_pid = 0


def dispatcher() -> Dispatcher:
    """This process's dispatcher, made on first use (after a fork, anew: threads do not survive one)."""
    global _dispatcher, _owner_pid
    with _lock:
        if _dispatcher is None or _owner_pid != os.getpid():
            _dispatcher, _owner_pid = Dispatcher(), os.getpid()
            _scheduled.clear()  # the timers they stood for are gone with the old dispatcher
        return _dispatcher


def wait_idle(timeout: float = 30.0) -> bool:
    return dispatcher().wait_idle(timeout)


def submit(engine, settings, group: Sequence[Mapping], transition: str) -> None:
    """Notify every enabled receiver of one group of alerts, in the background. Never raises, never
    blocks on a receiver. Silenced alerts are left out (a silence suppresses notifications)."""
    try:
        alerts = [dict(a) for a in group if not a.get("silenced")]
        if transition not in messages.TRANSITIONS:
            log.error("notify: unknown transition %r ignored", transition)
            return
        if not alerts:
            return
        policy = Policy.from_settings(settings)
        dispatcher().schedule(lambda: _fan_out(engine, policy, alerts, transition))
    except Exception:  # the evaluator must go on whatever happens here
        log.exception("notify: could not queue a group of %d alert(s)", len(group))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _fan_out(engine, policy: Policy, alerts: list[dict], transition: str) -> None:
    enabled = [r.id for r in receivers.list_receivers(engine, enabled_only=True)]
    if not enabled:
        log.info("notify: %d alert(s) %s, no receiver enabled", len(alerts), transition)
        return
    group_id = uuid.uuid4().hex  # lets a webhook drop the second copy of a retried delivery
    pending = notify_outbox.enqueue(engine, group_id, transition, _with_sources(engine, alerts), enabled,
                                    _now_ms())
    for pending_id in pending:  # each on its own pool thread: a hanging receiver delays only itself
        _schedule(engine, policy, pending_id, 1, 0.0)


def _with_sources(engine, alerts: list[dict]) -> list[dict]:
    """A no_data alert names the source that went quiet: its rule's `params.source` ("all" or an event
    type), read from the rules (ecc.alerts.store) when the alert does not carry it itself."""
    if not any(a.get("kind") == "no_data" and not a.get("source") for a in alerts):
        return alerts
    try:
        from ecc.alerts import store

        sources = {r["id"]: r["params"].get("source") for r in store.list_rules(engine)
                   if r["kind"] == "no_data"}
    except Exception:  # no rules to read: the message says "all channels", as before
        log.warning("notify: the sources of no_data alerts could not be read", exc_info=True)
        return alerts
    return [{**a, "source": sources[a.get("rule_id")]}
            if a.get("kind") == "no_data" and not a.get("source") and sources.get(a.get("rule_id")) else a
            for a in alerts]


_scheduled: set[tuple[int, int, int]] = set()  # (engine, row, attempt) with a timer in this process


def _schedule(engine, policy: Policy, pending_id: int, attempt: int, delay: float) -> None:
    key = (id(engine), pending_id, attempt)
    with _lock:
        if key in _scheduled:
            return
        _scheduled.add(key)

    def job() -> None:
        try:
            _attempt(engine, policy, pending_id, attempt)
        finally:
            with _lock:
                _scheduled.discard(key)

    dispatcher().schedule(job, delay)


def _attempt(engine, policy: Policy, pending_id: int, attempt: int) -> None:
    """Attempt `attempt` of one outbox row, if this process wins its claim; on failure the next attempt is
    written to the outbox and put on the timer (no thread sleeps)."""
    job = notify_outbox.claim(engine, pending_id, attempt, _now_ms(), policy.hold_ms)
    if job is None:
        return  # sent, given up, or made by another process
    ids = [a.get("id") for a in job.alerts]
    r = receivers.get_receiver(engine, job.receiver_id)
    if r is None or not r.enabled:
        _settle(engine, job, ids, "failed", "receiver deleted" if r is None else "receiver disabled", None)
        return
    try:
        target = receivers.target(r, policy.lang, policy.box)
        message = messages.render(job.alerts, job.transition, lang=target.lang, public_url=policy.public_url,
                                  channel_names=metadata.channel_names(engine), group_id=job.group_id)
        notify_send.deliver(target, message, datetime.now(UTC), timeout=policy.timeout_s,
                            smtp_url=policy.smtp_url, smtp_from=policy.smtp_from)
    except SecretError as exc:  # no retry can help until the key is fixed: given up at once, and said so
        log.error("notify: receiver %s (%s): %s", r.id, r.kind, exc)
        _settle(engine, job, ids, "failed", str(exc), None)
        return
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # a bug in a format must look like a failed delivery, not vanish
        log.exception("notify: receiver %s (%s) raised", r.id, r.kind)
        error = f"internal error: {type(exc).__name__}"
    else:
        _settle(engine, job, ids, "sent", None, None)
        log.info("notify: %s of %d alert(s) sent to receiver %s (%s), attempt %d", job.transition,
                 len(ids), r.id, r.kind, attempt)
        return
    if attempt >= policy.attempts:
        _settle(engine, job, ids, "failed", error, None)
        log.warning("notify: receiver %s (%s) gave up after %d attempt(s): %s", r.id, r.kind, attempt, error)
        return
    delay = policy.delay(attempt)
    _settle(engine, job, ids, "retrying", error, _now_ms() + int(delay * 1000))
    log.warning("notify: receiver %s (%s) attempt %d failed (%s); retry in %.1f s", r.id, r.kind,
                attempt, error, delay)
    _schedule(engine, policy, job.id, attempt + 1, delay)


def _settle(engine, job: notify_outbox.Job, ids: list, status: str, error: str | None,
            retry_at_ms: int | None) -> None:
    """The attempt's log rows and the outbox's change in one transaction: the log never says "retrying"
    of a delivery the outbox forgot, nor the outbox retries one the log says is done."""
    with Session(engine) as session, session.begin():
        notify_log.add(session, ids, job.receiver_id, job.attempt, status, error, job.transition)
        if retry_at_ms is None:
            notify_outbox.finish(session, job.id)
        else:
            notify_outbox.later(session, job.id, job.attempt + 1, retry_at_ms)


def resume(engine, settings, horizon_s: float = 0.0) -> int:
    """Put on this process's timer the outbox's rows due within `horizon_s` that nobody holds (after a
    restart: the deliveries and retries the last process left). Returns how many were scheduled."""
    policy = Policy.from_settings(settings)
    now = _now_ms()
    rows = notify_outbox.due(engine, now + int(horizon_s * 1000), now)
    for pending_id, attempt, due_ms in rows:
        _schedule(engine, policy, pending_id, attempt, max(0.0, (due_ms - now) / 1000))
    return len(rows)


class Sweeper(threading.Thread):
    """`resume` at start and every `interval` seconds: the outbox's due rows get made in some process
    even when the one that scheduled them died."""

    def __init__(self, engine, settings, interval: float = 15.0) -> None:
        super().__init__(name="ecc-notify-sweeper", daemon=True)
        self.engine, self.settings, self.interval = engine, settings, interval
        self.stopping = threading.Event()
        self._failing = False

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                found = resume(self.engine, self.settings, horizon_s=self.interval)
                if found:
                    log.info("notify: %d delivery(ies) from the outbox scheduled", found)
                self._failing = False
            except Exception:  # the metadata DB away: say so once, try again next round
                if not self._failing:
                    log.exception("notify: outbox sweep failed; retrying every %.0f s", self.interval)
                self._failing = True
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()


def start_sweeper(engine, settings, interval: float = 15.0) -> Sweeper:
    sweeper = Sweeper(engine, settings, interval)
    sweeper.start()
    return sweeper


def send_probe(engine, settings, receiver_id: int) -> dict:
    """Send a test message to one receiver now (the admin's "test" button): `{"ok", "error"}`.
    Not retried and not in the delivery log (no alert)."""
    policy = Policy.from_settings(settings)
    r = receivers.get_receiver(engine, receiver_id)
    if r is None:
        raise KeyError(receiver_id)
    try:
        t = receivers.target(r, policy.lang, policy.box)
        notify_send.deliver(t, messages.probe_message(t.lang), datetime.now(UTC), timeout=policy.timeout_s,
                            smtp_url=policy.smtp_url, smtp_from=policy.smtp_from)
    except (DeliveryError, SecretError) as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "error": None}
