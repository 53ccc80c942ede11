"""The per-minute trend: its figure (leads per minute today against yesterday and last week), and on the
wall its partial updates instead of a whole figure each second.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import plotly.graph_objects as go

from layouts.compare import context
from layouts.figures import AMBER, CYAN, MUTED, _figure, empty_figure
from layouts.formatting import as_int, get_in, snapshot_moment
from layouts.i18n import t


def _series(snapshot: Mapping, name: str) -> tuple[list[str], list[int]]:
    day = get_in(snapshot, "day")
    xs, ys = [], []
    for point in get_in(snapshot, "series", name, default=[]) or []:
        if not isinstance(point, Sequence) or isinstance(point, str) or len(point) < 2:
            continue
        minute, value = str(point[0]), as_int(point[1])
        if value is None:
            continue
        xs.append(f"{day} {minute}" if isinstance(day, str) and day else minute)
        ys.append(value)
    return xs, ys


def _partial_bucket(snapshot: Mapping) -> str | None:
    """The x of the minute still being counted: the minute of the snapshot's own `generated_at`."""
    local = snapshot_moment(snapshot)
    if local is None:
        return None
    day = get_in(snapshot, "day")
    if isinstance(day, str) and day:
        return f"{day} {local:%H:%M}" if day == local.date().isoformat() else None
    return f"{local:%H:%M}"


def _minutes_until(day: str, partial: str) -> list[str]:
    """Every minute x of `day` from 00:00 up to (not including) the partial one."""
    start = datetime.fromisoformat(day)
    end = datetime.fromisoformat(partial)
    count = int((end - start).total_seconds() // 60)
    return [(start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M") for i in range(max(0, count))]


@dataclass(frozen=True)
class TrendParts:
    """The per-minute trend's four lines, in trace order: last week, yesterday (the API's series
    companions, same minutes), today's complete minutes (zeros filled in, like the API), and the tail
    from the last complete minute to the one still being counted."""

    week_x: list
    week_y: list
    day_x: list
    day_y: list
    done_x: list
    done_y: list
    tail_x: list
    tail_y: list

    def traces(self) -> list[tuple[list, list]]:
        return [(self.week_x, self.week_y), (self.day_x, self.day_y), (self.done_x, self.done_y),
                (self.tail_x, self.tail_y)]


def trend_parts(snapshot: Mapping) -> TrendParts:
    xs, ys = _series(snapshot, "leads")
    partial = _partial_bucket(snapshot)
    day = get_in(snapshot, "day")
    counted = dict(zip(xs, ys, strict=True))
    if isinstance(day, str) and day and partial and " " in partial:
        done_x = _minutes_until(day, partial)
        done_y = [counted.get(x, 0) for x in done_x]
        tail_x = [done_x[-1], partial] if done_x else [partial]
        tail_y = [done_y[-1], counted.get(partial, 0)] if done_x else [counted.get(partial, 0)]
    else:  # no clock to cut at: every point is drawn as it is
        done_x, done_y, tail_x, tail_y = xs, ys, [], []
    ctx = context(snapshot)
    previous = []
    for shift in ("previous_week", "previous_day"):
        px, py = [], []
        for point in get_in(ctx, "trend", shift, default=[]) or []:
            if isinstance(point, Sequence) and len(point) >= 2 and as_int(point[1]) is not None:
                px.append(f"{day} {point[0]}" if isinstance(day, str) and day else str(point[0]))
                py.append(as_int(point[1]))
        previous += [px, py]
    return TrendParts(*previous, done_x, done_y, tail_x, tail_y)


def trend_figure(snapshot: Mapping, lang: str = "zh") -> go.Figure:
    """Leads per minute today against the same minutes yesterday and last week. Only complete minutes
    are drawn as the line; the minute still being counted is a dotted tail ("minute in progress")
    instead of a plunge. The four traces are always present, in TrendParts order, so that the wall can
    extend them in place (`trend_update` below)."""
    parts = trend_parts(snapshot)
    if not any(xs for xs, _ in parts.traces()):
        return empty_figure(lang)
    styles = (("fig.previous_week", MUTED, "dot", 1.5), ("fig.previous_day", AMBER, "dash", 1.8),
              ("fig.today", CYAN, "solid", 2.5))
    traces: list[dict] = []
    for (xs, ys), (name, color, dash, width) in zip(parts.traces()[:3], styles, strict=True):
        fill = dict(fill="tozeroy", fillgradient=dict(
            type="vertical", colorscale=[[0, "rgba(34,211,238,0.0)"], [1, "rgba(34,211,238,0.32)"]],
        )) if name == "fig.today" else {}
        traces.append(dict(
            type="scatter", x=xs, y=ys, name=t(name, lang), mode="lines", hovertemplate="%{y:,}",
            line=dict(color=color, width=width, dash=dash), **fill,
        ))
    traces.append(dict(
        type="scatter", x=parts.tail_x, y=parts.tail_y, name=t("fig.partial", lang), mode="lines+markers",
        showlegend=False, line=dict(color=CYAN, width=2, dash="dot"), marker=dict(size=7, color=CYAN),
        hovertemplate="%{y:,} (" + t("fig.partial", lang) + ")",
    ))
    dated = isinstance(get_in(snapshot, "day"), str)
    return _figure("trend", margin=dict(l=8, r=8, t=30, b=8), data=traces, showlegend=True,
                   hovermode="x unified",
                   legend=dict(orientation="h", x=1.0, xanchor="right", y=1.0, yanchor="bottom",
                               font=dict(size=15)),
                   yaxis=dict(rangemode="tozero", nticks=5, tickfont=dict(color=CYAN), fixedrange=True,
                              automargin=True, ticklabelshift=-10),
                   xaxis=dict(showgrid=False, fixedrange=True, nticks=8, automargin=True,
                              **({"type": "date", "tickformat": "%H:%M", "hoverformat": "%H:%M"} if dated
                                 else {})))


# ---- partial updates (the wall) ----------------------------------------------------------------------

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
