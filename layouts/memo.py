"""A per-process memo of the views built from one live snapshot.

Every screen asks for the same snapshot within the same second, and building the wall's Plotly figures
costs ~50 ms (validation of every trace and annotation), so 50 screens would spend 2.5 CPU-seconds a
second redrawing identical figures. The first request for a snapshot builds the views; the others reuse
them. Only derived, immutable views are held (the snapshot itself stays in Redis), so a worker restart
or several gunicorn workers change nothing but the hit rate.

Two things measured under 50 screens (docs/wall.md, "Serving 50 screens") shaped it:
- One build per view: a new snapshot arrives while a dozen requests are in flight, and without single
  flight each of them built the same figures at once, competing for the GIL (the p95's tail).
- Views are held as the JSON Dash sends (`wire`): Dash encodes an answer with orjson when every value is
  plain, and otherwise walks the whole answer in Python (`plotly.io.json.clean_to_json_compatible`),
  which was half the cost of a memo hit. Encoded once per view, a hit costs a dict lookup.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from typing import TypeVar

import orjson
from plotly.io.json import to_json_plotly

T = TypeVar("T")

# Keys of the snapshot that change every second without changing any figure or card: the header reads
# them afresh. `generated_at` matters only through its minute (the trend's minute in progress).
VOLATILE = frozenset({"generated_at", "freshness_s", "ingest_rate", "reject_rate", "live_state",
                      "alerts_read_ms"})


class SharedSnapshot(dict):
    """A snapshot read once and handed to every screen of a tick (layouts/shared.py): its digest is
    computed once (hashing the day's series costs ~1 ms). Never changed after it is made."""

    @property
    def key(self) -> str:
        cached = self.__dict__.get("_key")
        if cached is None:
            cached = self.__dict__["_key"] = _digest(self)
        return cached


def digest(snapshot: Mapping) -> str:
    """A short hash of what the views of `snapshot` depend on."""
    return snapshot.key if isinstance(snapshot, SharedSnapshot) else _digest(snapshot)


def _digest(snapshot: Mapping) -> str:
    stable = {key: value for key, value in snapshot.items() if key not in VOLATILE}
    stable["_minute"] = str(snapshot.get("generated_at"))[:16]
    text = json.dumps(stable, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def wire(value: object) -> object:
    """`value` (figures, components, lists of them) as plain JSON data, exactly what Dash would send.

    plotly's encoder walks Dash components in Python with many checks per node (5 ms for the funnel's
    11-cell strip); `_plain` only unwraps them, and orjson checks the rest. Anything orjson cannot take
    (a Decimal, a numpy array) goes through plotly's encoder, as Dash would send it."""
    try:
        return orjson.loads(orjson.dumps(_plain(value)))
    except TypeError:
        return orjson.loads(to_json_plotly(value))


def _plain(value: object) -> object:
    if isinstance(value, (str, int, float)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    to_json = getattr(value, "to_plotly_json", None)  # Dash components, plotly figures, Patch
    return _plain(to_json()) if to_json is not None else value


class ViewMemo:
    """A small thread-safe LRU of built views with single flight: the first thread to miss a key builds
    it (outside the lock), the others wait for its result instead of building it again."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._flights: dict[Hashable, Future] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]  # type: ignore[return-value]
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                self.misses += 1
                flight = self._flights[key] = Future()
            else:
                self.hits += 1
        if not leader:
            return flight.result()  # the leader's view, or its exception
        try:
            value = build()
        except BaseException as exc:
            with self._lock:
                self._flights.pop(key, None)
            flight.set_exception(exc)
            raise
        with self._lock:
            self._items[key] = value
            self._flights.pop(key, None)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        flight.set_result(value)
        return value
