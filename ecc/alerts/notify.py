"""Alert notifications: `submit()` hands a group to a background dispatcher and returns at once.

The evaluator (ecc/alerts, one process holds its lease) calls `submit(engine, settings, group, transition)`
with the alerts that changed state together (API shape, docs/api.md) and "firing" | "resolved" | "repeat".
The dispatcher then
- reads the enabled receivers once per group and renders ONE message per receiver (its language),
- sends each on a small thread pool, a fresh timestamp and signature per attempt (DingTalk and Feishu
  refuse a timestamp over an hour old),
- retries a failed delivery with exponential backoff (ECC_NOTIFY_BACKOFF_S, doubling, at most
  ECC_NOTIFY_ATTEMPTS attempts; a retry waits in a timer heap, not on a thread),
- writes every attempt to the delivery log (ecc/alerts/notify_log.py).
A receiver that hangs holds one pool thread for at most ECC_NOTIFY_TIMEOUT_S; one that fails never stops
the others, and nothing here ever raises into the evaluator.

Pending retries live in memory: a restart of the process forgets them (the next "repeat" of a still-firing
alert notifies again).
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

from ecc import metadata
from ecc.alerts import messages, notify_log, notify_send, receivers
from ecc.alerts.notify_formats import DeliveryError, Target

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

    @classmethod
    def from_settings(cls, settings) -> Policy:
        if settings is None:  # an evaluator made without settings (tests, replays): the defaults
            return cls()
        return cls(attempts=max(1, settings.notify_attempts), backoff_s=settings.notify_backoff_s,
                   timeout_s=settings.notify_timeout_s, lang=settings.notify_lang,
                   public_url=settings.public_url, smtp_url=settings.smtp_url, smtp_from=settings.smtp_from)

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
            self._pool.submit(self._call, fn)

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


def _fan_out(engine, policy: Policy, alerts: list[dict], transition: str) -> None:
    targets = [receivers.target(r, policy.lang) for r in receivers.list_receivers(engine, enabled_only=True)]
    if not targets:
        log.info("notify: %d alert(s) %s, no receiver enabled", len(alerts), transition)
        return
    names = metadata.channel_names(engine)
    group_id = uuid.uuid4().hex  # lets a webhook drop the second copy of a retried delivery
    rendered: dict[str, messages.Message] = {}
    for t in targets:
        if t.lang not in rendered:
            rendered[t.lang] = messages.render(alerts, transition, lang=t.lang, public_url=policy.public_url,
                                               channel_names=names, group_id=group_id)
        _attempt(engine, policy, t, rendered[t.lang], 1)


def _attempt(engine, policy: Policy, target: Target, message: messages.Message, attempt: int) -> None:
    """One attempt now; on failure the next is scheduled on the timer (no thread sleeps)."""
    ids = [a.get("id") for a in message.alerts]
    try:
        notify_send.deliver(target, message, datetime.now(UTC), timeout=policy.timeout_s,
                            smtp_url=policy.smtp_url, smtp_from=policy.smtp_from)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # a bug in a format must look like a failed delivery, not vanish
        log.exception("notify: receiver %s (%s) raised", target.id, target.kind)
        error = f"internal error: {type(exc).__name__}"
    else:
        notify_log.record(engine, ids, target.id, attempt, "sent", None, message.transition)
        log.info("notify: %s of %d alert(s) sent to receiver %s (%s), attempt %d", message.transition,
                 len(ids), target.id, target.kind, attempt)
        return
    last = attempt >= policy.attempts
    notify_log.record(engine, ids, target.id, attempt, "failed" if last else "retrying", error,
                      message.transition)
    if last:
        log.warning("notify: receiver %s (%s) gave up after %d attempt(s): %s", target.id, target.kind,
                    attempt, error)
        return
    delay = policy.delay(attempt)
    log.warning("notify: receiver %s (%s) attempt %d failed (%s); retry in %.1f s", target.id, target.kind,
                attempt, error, delay)
    dispatcher().schedule(lambda: _attempt(engine, policy, target, message, attempt + 1), delay)


def send_probe(engine, settings, receiver_id: int) -> dict:
    """Send a test message to one receiver now (the admin's "test" button): `{"ok", "error"}`.
    Not retried and not in the delivery log (no alert)."""
    policy = Policy.from_settings(settings)
    r = receivers.get_receiver(engine, receiver_id)
    if r is None:
        raise KeyError(receiver_id)
    t = receivers.target(r, policy.lang)
    try:
        notify_send.deliver(t, messages.probe_message(t.lang), datetime.now(UTC), timeout=policy.timeout_s,
                            smtp_url=policy.smtp_url, smtp_from=policy.smtp_from)
    except DeliveryError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "error": None}
