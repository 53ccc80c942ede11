"""A per-process memo of the views built from one live snapshot.

Every screen asks for the same snapshot within the same second, and building the wall's Plotly figures
costs ~50 ms (validation of every trace and annotation), so 50 screens would spend 2.5 CPU-seconds a
second redrawing identical figures. The first request for a snapshot builds the views; the others reuse
them. Only derived, immutable views are held (the snapshot itself stays in Redis), so a worker restart
or several gunicorn workers change nothing but the hit rate.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

T = TypeVar("T")

# Keys of the snapshot that change every second without changing any figure or card: the header reads
# them afresh. `generated_at` matters only through its minute (the trend's minute in progress).
VOLATILE = frozenset({"generated_at", "freshness_s", "ingest_rate", "reject_rate", "live_state"})


def digest(snapshot: Mapping) -> str:
    """A short hash of what the views of `snapshot` depend on."""
    stable = {key: value for key, value in snapshot.items() if key not in VOLATILE}
    stable["_minute"] = str(snapshot.get("generated_at"))[:16]
    text = json.dumps(stable, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class ViewMemo:
    """A small thread-safe LRU of built views; a miss builds outside the lock (two threads may build the
    same view once each; both results are equal)."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]  # type: ignore[return-value]
            self.misses += 1
        value = build()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value
