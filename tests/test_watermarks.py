"""Every panel's freshness watermark (layouts/watermarks.py) and what the wall gained beside it: the
turnover headline and AUM by segment and level (issue 8, deliver 1). Pure functions: no browser here
(tests/test_wall_browser.py watches them move)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from dash import no_update
from test_layouts import sample_snapshot

from ecc.timeutil import TZ
from layouts import money_views, screens, wall, watermarks


def _components(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            yield from _components(child)


def _panels(root) -> dict[str, object]:
    return {c.className.split()[1].removeprefix("panel-"): c for c in _components(root)
            if getattr(c, "className", None) and c.className.split()[0] == "panel"}


def _watermarks(node) -> list[dict]:
    return [c.id for c in _components(node)
            if isinstance(getattr(c, "id", None), dict) and c.id.get("type", "").endswith("-watermark")]


def test_source_times_say_up_to_when_each_source_is():
    now = datetime(2026, 11, 30, 10, 0, 0, tzinfo=TZ)
    at = int(now.timestamp() * 1000)
    snap = {**sample_snapshot(now), "freshness_s": 1.5, "generated_at": now.isoformat()}
    times = watermarks.source_times(snap, now)
    assert times == {"at": at, "live": at - 1500, "context": at - 30_000, "alerts": at - 2_000}
    # a snapshot that stopped being rebuilt carries its own age into the live source's time
    old = {**snap, "generated_at": (now - timedelta(seconds=40)).isoformat()}
    assert watermarks.source_times(old, now)["live"] == at - 41_500
    # nothing known: None, never 0 (a panel says "—", not 1970)
    assert watermarks.source_times({}, now) == {"at": at, "live": None, "context": None, "alerts": None}
    # ClickHouse may hold events up to 5 minutes ahead: a source is never newer than the server's now
    ahead = {**snap, "context": {**snap["context"], "newest_ms": at + 60_000}}
    assert watermarks.source_times(ahead, now)["context"] == at


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_panel_of_every_screen_has_its_sources_watermark(lang):
    expected = {"wall": {"funnel": "live", "channels": "live", "trend": "live", "assets": "context",
                         "provinces": "context", "wealth": "live", "alerts": "alerts"}}
    layouts = {"wall": wall.layout(lang)}
    for name in screens.SCREEN_LAYOUTS:
        layouts[name] = screens.layout(name, lang)
    for name, root in layouts.items():
        panels = _panels(root)
        assert panels, name
        for panel_name, panel in panels.items():
            marks = _watermarks(panel)
            assert len(marks) == 1, (name, panel_name, marks)
            assert marks[0]["panel"] == panel_name and marks[0]["source"] in watermarks.SOURCES
            assert marks[0]["type"] == ("wall" if name == "wall" else "screen") + "-watermark"
            if name in expected:
                assert marks[0]["source"] == expected[name][panel_name], panel_name
            elif panel_name in ("provinces", "tiers", "assets"):
                assert marks[0]["source"] == "context"
        # every KPI card too: its live source's, in its corner (shown once late: assets/wall.css)
        cards = [c for c in _components(root) if "kpi-card" in str(getattr(c, "className", "")).split()]
        assert cards or name in ("service", "alerts"), name
        for card in cards:
            marks = _watermarks(card)
            assert len(marks) == 1 and marks[0]["source"] == "live" and marks[0]["panel"].startswith("kpi-")
    with pytest.raises(ValueError):
        watermarks.watermark("wall", "x", "redis", lang)


def test_each_refresh_sends_the_source_times_and_a_failed_one_does_not():
    now = datetime.now(TZ)
    snap = sample_snapshot(now)
    out = dict(zip(wall._OUTPUTS, wall.render(snap, "zh", now), strict=True))
    assert out[(wall.HEADER.source_times, "data")] == watermarks.source_times(snap, now)
    for failed in (wall.source_down("zh", now), wall.rebuilding("zh", now)):
        # the browser keeps the last times and ages them itself: the panels go stale while it lasts
        assert dict(zip(wall._OUTPUTS, failed, strict=True))[(wall.HEADER.source_times, "data")] is no_update
    fig_ids = [{"type": screens.FIG, "name": "provinces"}]
    served = screens.render(snap, "zh", now, fig_ids, [], [])
    assert served[7] == watermarks.source_times(snap, now)
    assert screens.render({"error": "down"}, "zh", now, fig_ids, [], [])[7] is no_update


def test_the_wall_shows_turnover_and_aum_by_segment_and_level():
    now = datetime.now(TZ)
    snap = sample_snapshot(now)
    out = dict(zip(wall._OUTPUTS, wall.render(snap, "zh", now), strict=True))
    trades = sum(Decimal(v) for v in snap["totals"]["trade_amount"].values())
    line = out[(wall.ID_TURNOVER, "children")]
    value = next(part for part in line if part.className == "turnover-value")
    assert float(getattr(value, "data-value")) == pytest.approx(float(trades / Decimal("8642000000.00")))
    assert value.children == "0.17%"
    assert "1,450.00 万" in line[2].children and "86.42 亿" in line[2].children
    tiers = out[(wall.ID_TIER_GRAPH, "figure")]
    bars = dict(zip(tiers.data[0].y, tiers.data[0].x, strict=True))
    assert bars == {"交易型": 9_000_000.0, "理财型": 7_000_000.0, "V3": 5_000_000.0, "V0": 10.0}
    assert money_views.turnover_line({}, "en")[1].children == "—"
    # the turnover headline changes with the trades: its view version moves, the donut's does not
    more = {**snap, "totals": {**snap["totals"], "trade_amount": {"stock": "1"}}}
    before, after = wall.part_keys(snap, "zh"), wall.part_keys(more, "zh")
    assert before["wealth"] != after["wealth"] and before["assets"] == after["assets"]
