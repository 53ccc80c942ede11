"""The wall's per-minute trend as partial updates (Dash `Patch`) instead of a whole figure each second.

The browser keeps what it drew; the server keeps nothing: a small `dcc.Store` beside the chart holds, per
line, how many points the browser has and a hash of them. Each refresh extends every line by its new
complete minutes and replaces the 2-point tail of the minute in progress, a few hundred bytes instead
of the whole day's points. The whole figure is sent again only when the language or the day changed,
when a minute already drawn changed (a late event counted into it), or on a fresh page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping

from dash import Patch

from layouts.figures import trend_parts

LINES = 3  # last week, yesterday, today's complete minutes; trace 3 is the tail (replaced every time)


def _hash(xs: list, ys: list) -> str:
    text = json.dumps([xs, ys], separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def trend_update(snapshot: Mapping, lang: str, state: Mapping | None,
                 full: Callable[[], object]) -> tuple[object, dict | None]:
    """(figure or Patch, the store's new state). `full()` builds the whole figure (memoized by the
    caller); `state` is what the browser drew last time (None on a fresh page)."""
    parts = trend_parts(snapshot)
    traces = parts.traces()
    if not any(xs for xs, _ in traces):
        return full(), None  # the empty placeholder: no lines to extend next time
    key = f"{lang}|{snapshot.get('day')}"
    new_state = {"key": key, "n": [len(xs) for xs, _ in traces[:LINES]],
                 "h": [_hash(xs, ys) for xs, ys in traces[:LINES]]}
    if not _extends(state, key, traces):
        return full(), new_state
    patch = Patch()
    for i, (xs, ys) in enumerate(traces[:LINES]):
        drawn = state["n"][i]
        if len(xs) > drawn:
            patch["data"][i]["x"].extend(xs[drawn:])
            patch["data"][i]["y"].extend(ys[drawn:])
    patch["data"][LINES]["x"] = parts.tail_x
    patch["data"][LINES]["y"] = parts.tail_y
    return patch, new_state


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
