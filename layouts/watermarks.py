"""A freshness watermark on every panel: up to when the data a panel draws is, judged by the browser.

A panel draws from one of three sources, each with its own pace:
- "live": the Redis counters, moving with every event (KPI cards, funnel, channels, trend, wealth, …);
- "context": ClickHouse, recomputed once a minute (AUM by class, province, segment and level;
  layouts/context.py);
- "alerts": the alert list, read every few seconds from the metadata database.

The server sends, with every refresh, the time of the newest event each source's numbers include (for
alerts: when the list was read) in one small store (`source_times`). The browser (assets/watermark.js)
turns it into each panel's watermark every second, with or without the server: the age keeps growing
while no answer arrives, so a panel whose source stopped (a dead worker, a stuck context, a server that
went away) turns amber, then red and dimmed, by itself. The header's 数据延迟 badge says the same for
the live source; docs/metrics.md asks for freshness per source on every screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from dash import ALL, Dash, Input, Output, State, dcc, html

from layouts.formatting import FRESH_OK_S, FRESH_WARN_S, as_int, effective_freshness, get_in
from layouts.i18n import t

if TYPE_CHECKING:
    from layouts.chrome import HeaderIds

SOURCES = ("live", "context", "alerts")
# Per source, (fresh below, stale from) seconds of age. The context is recomputed each minute from a cut
# floored to the minute, so up to ~60 s plus its computation is its normal age; alerts are read every 5 s.
LIMITS_S: dict[str, tuple[float, float]] = {
    "live": (FRESH_OK_S, FRESH_WARN_S),
    "context": (150.0, 300.0),
    "alerts": (30.0, 120.0),
}

_PANELS_JS = ("function(n, times, ids, cfg) {"
              " return window.eccPanelWatermarks(times, ids, cfg); }")


def source_times(snapshot: Mapping, now: datetime) -> dict:
    """{"at": the server's now, then per source the time (epoch ms) of the newest data it includes, or
    None while unknown}. Live: now − freshness (the snapshot's own age included: formatting.py)."""
    at = int(now.timestamp() * 1000)
    fresh = effective_freshness(snapshot, now)
    newest = as_int(get_in(snapshot, "context", "newest_ms"))
    return {
        "at": at,
        "live": None if fresh is None else at - int(fresh * 1000),
        "context": None if newest is None else min(newest, at),
        "alerts": as_int(get_in(snapshot, "alerts_read_ms")),
    }


def watermark_type(prefix: str) -> str:
    return f"{prefix}-watermark"


def watermark(prefix: str, panel: str, source: str, lang: str) -> html.Span:
    """The watermark of one panel ("—" until the first refresh says its source's time)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return html.Span("—", id={"type": watermark_type(prefix), "panel": panel, "source": source},
                     className="panel-watermark wm-unknown", title=t(f"wm.source.{source}", lang))


def stores(ids: HeaderIds, lang: str) -> list:
    """The source times (filled by each refresh) and what the browser needs to write the watermarks:
    the limits and the words of `lang`."""
    return [
        dcc.Store(id=ids.source_times),
        dcc.Store(id=ids.watermark_cfg, data={
            "limits": LIMITS_S,
            "asof": t("wm.asof", lang), "stale": t("wm.stale", lang), "unknown": t("wm.unknown", lang),
            "units": [t("wm.s", lang), t("wm.min", lang), t("wm.h", lang)],
            "titles": {source: t(f"wm.source.{source}", lang) for source in SOURCES},
            "at": t("wm.title_at", lang),
        }),
    ]


def register_clientside(app: Dash, ids: HeaderIds) -> None:
    """Every panel's watermark of the screens with these header ids, every second (assets/watermark.js)."""
    target = {"type": watermark_type(ids.prefix), "panel": ALL, "source": ALL}
    app.clientside_callback(
        _PANELS_JS,
        Output(target, "children"), Output(target, "className"), Output(target, "title"),
        Input(ids.clock_tick, "n_intervals"), Input(ids.source_times, "data"),
        State(target, "id"), State(ids.watermark_cfg, "data"),
    )
