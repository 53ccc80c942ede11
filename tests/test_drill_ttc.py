"""Time-to-convert histogram of the cohort funnel (ecc/olap/time_to_convert.py, GET /api/v1/funnel field
`time_to_convert_histogram`) against real chDB, on leads whose durations are known by construction, and
against an independent computation: the test oracle's windowFunnel levels (tests/oracle.py) and the
duration first step 11 − first step 1 taken from the raw events, binned here by plain comparisons."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from oracle import Oracle, make_lead, make_step, parse_ts
from scenarios import DAY

from ecc import metadata
from ecc.contract.validate import validate
from ecc.live.live_store import LiveStore
from ecc.olap import analytics, clickhouse, time_to_convert
from ecc.services import Services
from ecc.web.api import create_api
from ecc.web.openapi import document
from layouts import drill_api, drill_figures, drill_load
from layouts.drill_filters import api_params, parse, resolve

END = DAY + timedelta(days=1)
T0 = DAY + timedelta(hours=9)
MIN = 60


def chain(lead_id: str, start: datetime, gap_s: float, channel: str = "douyin") -> list[dict]:
    """A lead and its done steps 1..11, `gap_s` seconds apart: it converts in 10 × gap_s seconds."""
    return [make_lead(lead_id, start, channel=channel),
            *(make_step(lead_id, k, start + timedelta(seconds=gap_s * (k - 1)), channel=channel)
              for k in range(1, 12))]


def scenario() -> list[dict]:
    events = [
        *chain("A", T0, 18),                          # 3 min            -> [0, 5 min)
        *chain("B", T0, 30),                          # 5 min exactly    -> [5, 10 min)
        *chain("C", T0, 150),                         # 25 min           -> [20, 30 min)
        *chain("D", T0, 359.4),                       # 59.9 min         -> [45, 60 min)
        *chain("E", T0, 360),                         # 60 min exactly   -> [60, 90 min)
        *chain("F", T0, 1200),                        # 200 min          -> [2, 4 h)
        *chain("G", T0, 10_800),                      # 30 h             -> [1, 2 days)
        *chain("H", T0, 25_560),                      # 71 h             -> [2, 3 days)
        *chain("X", T0, 27_000),                      # 75 h: past the 72 h window, never reaches level 11
        *chain("W", T0 + timedelta(hours=1), 300, channel="wechat"),  # 50 min, another channel
        *chain("Y", DAY - timedelta(hours=2), 60),    # first step 1 the day before: not in DAY's cohort
    ]
    # R: step 1, then 80 h later step 1 again and steps 2..11 within 10 min: windowFunnel's chain restarts
    # and reaches 11, but first step 11 − first step 1 is 80 h 10 min: the open bucket [3 days, ∞)
    restart = T0 + timedelta(minutes=30)
    events += [make_lead("R", restart), make_step("R", 1, restart),
               *(make_step("R", k, restart + timedelta(hours=80, minutes=k - 1))
                 for k in range(1, 12))]
    return events


def load(client, raws: list[dict]) -> None:
    clock = int((DAY + timedelta(days=30)).timestamp() * 1000)  # the door accepts every ts above
    clickhouse.insert_events(client, [validate(raw, phone_key="k", now_ms=clock) for raw in raws])


def independent(raws: list[dict], start: datetime, end: datetime, window_hours: float,
                channels: set[str] | None = None) -> list[int]:
    """Leads per bucket of `time_to_convert.EDGES_MIN` (cut at the window), without the module's code."""
    cohort = Oracle(raws)._cohort_levels(start, end, window_hours, channels, None)
    durations = []
    for lead in cohort.values():
        if lead["level"] == 11:
            step11 = min(parse_ts(e["ts"]) for e in lead["steps"] if e["step"] == 11
                         and parse_ts(e["ts"]) >= parse_ts(lead["first_step1"]["ts"]))
            durations.append((step11 - parse_ts(lead["first_step1"]["ts"])).total_seconds())
    lows = [0] + [e * MIN for e in time_to_convert.EDGES_MIN if e <= window_hours * 60]
    highs = [*lows[1:], float("inf")]
    return [sum(1 for d in durations if low <= d < high) for low, high in zip(lows, highs, strict=True)]


def test_bins_are_exact_at_whole_minute_bounds():
    assert time_to_convert.edges_for(1) == (5, 10, 20, 30, 45, 60)  # then open from the window's end
    buckets = time_to_convert.bin_minutes([(0, 2), (4, 1), (5, 3), (44, 1), (45, 1), (500, 7)], (5, 10, 45))
    assert buckets == [{"from_s": 0, "to_s": 300, "leads": 3}, {"from_s": 300, "to_s": 600, "leads": 3},
                       {"from_s": 600, "to_s": 2700, "leads": 1}, {"from_s": 2700, "to_s": None, "leads": 8}]
    assert [b["leads"] for b in time_to_convert.bin_minutes([], (5,))] == [0, 0]


def test_histogram_of_known_durations(ch):
    raws = scenario()
    load(ch, raws)
    hist = time_to_convert.histogram(ch, DAY, END)
    by_bucket = {(b["from_s"] // MIN, None if b["to_s"] is None else b["to_s"] // MIN): b["leads"]
                 for b in hist["buckets"]}
    assert {k: n for k, n in by_bucket.items() if n} == {
        (0, 5): 1, (5, 10): 1, (20, 30): 1, (45, 60): 2, (60, 90): 1, (120, 240): 1,  # 45-60: D and W
        (1440, 2880): 1, (2880, 4320): 1, (4320, None): 1}                           # G, H, R
    assert hist["count"] == 10 and (hist["from_step"], hist["to_step"]) == (1, 11)
    assert hist["count"] == analytics.funnel(ch, DAY, END)["time_to_convert"]["count"]
    assert [b["leads"] for b in hist["buckets"]] == independent(raws, DAY, END, 72)


@pytest.mark.parametrize(("window_hours", "channels"), [(72, ["wechat"]), (72, ["douyin"]), (2, []),
                                                        (24 * 5, [])])
def test_histogram_matches_the_independent_count(ch, window_hours, channels):
    raws = scenario()
    load(ch, raws)
    hist = time_to_convert.histogram(ch, DAY, END, window_hours, channels)
    assert [b["leads"] for b in hist["buckets"]] == independent(raws, DAY, END, window_hours,
                                                               set(channels) or None)
    assert hist["count"] == analytics.funnel(ch, DAY, END, window_hours, channels)["time_to_convert"]["count"]
    assert hist["buckets"][-1]["to_s"] is None and hist["buckets"][0]["from_s"] == 0


def test_the_funnel_answer_carries_the_histogram(ch, redis_client, settings):
    load(ch, scenario())
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    app = Flask(__name__)
    app.register_blueprint(create_api(Services(settings=settings, live=LiveStore(redis_client), ch=ch,
                                               meta=engine)))
    body = app.test_client().get("/api/v1/funnel", query_string={
        "from": DAY.isoformat(), "to": END.isoformat(), "window_hours": 72}).get_json()
    assert body["time_to_convert_histogram"] == time_to_convert.histogram(ch, DAY, END, 72)
    assert body["time_to_convert_histogram"]["count"] == body["time_to_convert"]["count"] == 10
    assert set(body) >= {"window_hours", "cohort", "overall_conversion", "step_conversion", "time_to_convert"}
    schema = document()["paths"]["/api/v1/funnel"]["get"]["responses"]["200"]["content"]["application/json"]
    assert "time_to_convert_histogram" in schema["schema"]["properties"]


def test_bucket_labels_say_the_unit_once():
    label = drill_figures.bucket_label
    assert [label(0, 300, "zh"), label(300, 600, "en"), label(2700, 3600, "en"), label(3600, 5400, "zh"),
            label(86_400, 172_800, "zh"), label(259_200, None, "en")] == [
        "<5分钟", "5–10 min", "45 min–1 h", "1–1.5小时", "1–2天", "≥3 d"]


def test_the_cohort_view_draws_the_apis_histogram(ch, redis_client, settings):
    load(ch, scenario())
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    app = Flask(__name__)
    app.register_blueprint(create_api(Services(settings=settings, live=LiveStore(redis_client), ch=ch,
                                               meta=engine)))
    f = parse(f"?from={DAY.isoformat()}&to={END.isoformat()}&lang=en".replace("+", "%2B"))
    with app.test_request_context("/"):
        body, _ = drill_load.load("cohort", f, END + timedelta(days=5), drill_api.get, "/")
        period = resolve(f, END + timedelta(days=5))
        api = drill_api.get("funnel", api_params(f, period, window_hours=f.window_hours)).body
    graphs = {}
    values = {}

    def walk(node):
        props = node.to_plotly_json()["props"] if hasattr(node, "to_plotly_json") else {}
        if str(props.get("id", "")).startswith("drill-ttc-bucket-"):
            values[props["id"]] = int(props["data-value"])
        if props.get("figure") is not None:
            graphs[props.get("id")] = props["figure"]
        children = props.get("children")
        for child in children if isinstance(children, list) else [children]:
            if hasattr(child, "to_plotly_json"):
                walk(child)
    for node in body:
        walk(node)
    buckets = api["time_to_convert_histogram"]["buckets"]
    assert values == {f"drill-ttc-bucket-{i}": b["leads"] for i, b in enumerate(buckets)}
    bars = graphs["drill-ttc-hist-graph"].data[0]
    assert list(bars.y) == [b["leads"] for b in buckets] and sum(bars.y) == 10
    assert bars.x[0] == "<5 min" and bars.x[-1] == "≥3 d"
