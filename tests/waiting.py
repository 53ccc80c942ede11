"""Polling for asynchronous pipelines: the tests wait for a condition, never for a fixed time."""

from __future__ import annotations

import time


def wait_until(check, timeout: float = 20.0, every: float = 0.1) -> bool:
    """True as soon as `check()` is true; its last answer once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return bool(check())
