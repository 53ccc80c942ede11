"""A cap on concurrent Argon2 verifications in one process.

Each verification takes 64 MiB (RFC 9106's low-memory profile, ecc/auth/passwords.py) for ~50 ms: a flood
of logins with threads to spare (gthread workers) would otherwise allocate 64 MiB per request at once and
exhaust the machine's memory before the login throttle (which counts failures, afterwards) could stop it.
So at most `slots` verifications run at a time per process; a login that cannot get a slot within
`wait_s` is refused with `Busy` (the login page answers 503 with Retry-After) instead of queueing without
bound. Per process, not across workers: memory is per machine, and workers x slots x 64 MiB is the bound.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_SLOTS = 4  # 256 MiB of Argon2 memory per worker at most
DEFAULT_WAIT_S = 2.0  # ~40 verifications' time per slot: a real user rarely notices, a flood is cut off


class Busy(RuntimeError):
    """Every slot stayed taken for the whole wait."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many password checks at once: retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class HashGate:
    def __init__(self, slots: int = DEFAULT_SLOTS, wait_s: float = DEFAULT_WAIT_S) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots, self.wait_s = slots, max(0.0, wait_s)
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self.in_use = 0
        self.peak = 0  # the most verifications seen at once (tests, and a figure for docs/security.md)
        self.refused = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._free.acquire(timeout=self.wait_s):
            with self._lock:
                self.refused += 1
            raise Busy(max(1, math.ceil(self.wait_s)))
        with self._lock:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._lock:
                self.in_use -= 1
            self._free.release()


_GATE = HashGate()


def gate() -> HashGate:
    return _GATE


def configure(slots: int, wait_s: float) -> HashGate:
    """Replace the process's gate (the web app's settings, at start-up; tests)."""
    global _GATE
    _GATE = HashGate(slots, wait_s)
    return _GATE


__all__ = ["DEFAULT_SLOTS", "DEFAULT_WAIT_S", "Busy", "HashGate", "configure", "gate"]
