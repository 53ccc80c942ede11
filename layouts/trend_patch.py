"""The wall's per-minute trend as partial updates instead of a whole figure each second.

The browser keeps what it drew; the server keeps nothing: a small `dcc.Store` beside the chart holds, per
line, how many points the browser has and a hash of them. Each refresh extends every line by its new
complete minutes and replaces the 2-point tail of the minute in progress, a few hundred bytes instead
of the whole day's points. The whole figure is sent again only when the language or the day changed,
when a minute already drawn changed (a late event counted into it), or on a fresh page.

The delta is plain data for a store (`wall-trend-delta`), applied by the browser (assets/trend.js), not a
Dash `Patch`: Dash resolves a Patch against the page as it was when the request left, so a refresh
answered after the user had left the wall threw "Cannot patch undefined" on the page then shown (seen
on a loaded machine). A plain value for a component no longer shown is simply dropped, and the browser
applies a delta only to the lines it was computed for (`from`), else asks for the whole figure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping

from layouts.figures import trend_parts

LINES = 3  # last week, yesterday, today's complete minutes; trace 3 is the tail (replaced every time)


def _hash(xs: list, ys: list) -> str:
    text = json.dumps([xs, ys], separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def trend_update(snapshot: Mapping, lang: str, state: Mapping | None,
                 full: Callable[[], object]) -> tuple[object | None, dict | None, dict | None]:
    """(the whole figure or None, a delta or None, the store's new state): exactly one of the first two.
    `full()` builds the whole figure (memoized by the caller); `state` is what the browser drew last time
    (None on a fresh page). A delta: `from` (the points per line it extends), per line the new complete
    minutes (`x`, `y`), and the tail of the minute in progress (`tail`: [xs, ys])."""
    parts = trend_parts(snapshot)
    traces = parts.traces()
    if not any(xs for xs, _ in traces):
        return full(), None, None  # the empty placeholder: no lines to extend next time
    key = f"{lang}|{snapshot.get('day')}"
    new_state = {"key": key, "n": [len(xs) for xs, _ in traces[:LINES]],
                 "h": [_hash(xs, ys) for xs, ys in traces[:LINES]]}
    if not _extends(state, key, traces):
        return full(), None, new_state
    drawn = state["n"]
    delta = {"from": list(drawn[:LINES]),
             "x": [list(xs[n:]) for (xs, _), n in zip(traces[:LINES], drawn, strict=False)],
             "y": [list(ys[n:]) for (_, ys), n in zip(traces[:LINES], drawn, strict=False)],
             "tail": [list(parts.tail_x), list(parts.tail_y)]}
    return None, delta, new_state


def _extends(state: Mapping | None, key: str, traces: list) -> bool:
    """The browser's lines are a prefix of the new ones (same day and language, nothing redrawn)."""
    if not isinstance(state, Mapping) or state.get("key") != key:
        return False
    counts, hashes = state.get("n"), state.get("h")
    if not isinstance(counts, list) or not isinstance(hashes, list) or len(counts) != LINES:
        return False
    for (xs, ys), drawn, digest in zip(traces[:LINES], counts, hashes, strict=False):
        if not isinstance(drawn, int) or drawn > len(xs) or _hash(xs[:drawn], ys[:drawn]) != digest:
            return False
    return True
