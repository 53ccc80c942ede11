"""Drill-down views without a browser: pure view functions, the controls' next filter, and every view
loaded through the real /api/v1 (real chDB and Redis) in process, as the pages do."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from flask import Flask
from oracle import journeys, make_deposit
from scenarios import DAY

from ecc import metadata
from ecc.contract.catalogue import CHANNELS, channel_label
from ecc.contract.validate import validate
from ecc.live.live_store import LiveStore
from ecc.services import Services
from ecc.sink import SinkStats, store_batch
from ecc.timeutil import TZ
from ecc.web.api import create_api
from layouts import drill_api, drill_figures, drill_load
from layouts.drill import AUTO_REFRESH_S, click_config, layout, next_filter, refreshes, routes
from layouts.drill_filters import DrillFilter, parse
from layouts.drill_views import callback_table, channel_table, delta, kpi_cards, raw

T0 = DAY + timedelta(hours=9)
NOW = DAY + timedelta(hours=20)
PERIOD = f"?from={DAY.isoformat()}&to={(DAY + timedelta(days=1)).isoformat()}".replace("+", "%2B")


def test_delta_relative_for_counts_and_money_points_for_ratios():
    assert delta("count", 120, 100) == ("+20.0%", "up")
    assert delta("money", "90.00", "100.00") == ("-10.0%", "down")
    assert delta("ratio", 0.5, 0.25) == ("+25.0 pp", "up")
    assert delta("count", 5, 0) == ("—", "up")  # no base to compare with
    assert delta("ratio", None, 0.3) == ("—", "")


def test_cards_keep_the_api_values_and_link_to_their_view():
    f = parse("?channel=douyin")
    cards = kpi_cards({"leads": 12, "dial_rate": 0.25, "aum": "1234.50", "deposit_rate": None},
                      {"leads": 10}, f, "/", "前一日同期")
    values = {c.children[1].id: c.children[1].to_plotly_json()["props"]["data-value"] for c in cards.children}
    assert values["drill-kpi-leads"] == "12" and values["drill-kpi-dial_rate"] == "0.25"
    assert values["drill-kpi-aum"] == "1234.50" and values["drill-kpi-deposit_rate"] == ""
    hrefs = {c.id: c.href for c in cards.children}
    assert hrefs["drill-card-leads"] == "/drill/series?channel=douyin"
    assert hrefs["drill-card-opened"] == "/drill/funnel?channel=douyin&metric=opened"
    assert raw(0.1) == "0.1" and raw(None) == ""


def test_figures_draw_empty_answers_without_raising():
    figs = drill_figures
    for fig in (figs.funnel_figure({}, None, "zh"), figs.channel_step_heatmap([], "en"),
                figs.day_step_heatmap([], "zh"), figs.cohort_figure({}, "zh"),
                figs.time_to_convert_figure({}, "en"), figs.ttc_histogram_figure({}, "zh"),
                figs.breakdown_figure({}, "by_class", "zh"),
                figs.wealth_figure({}, "zh"), figs.series_figure({}, "en", True)):
        assert fig.layout.annotations[0].text in ("暂无数据", "No data")


def test_controls_write_the_next_filter():
    f = parse("?channel=douyin&step=3")
    now = datetime(2026, 11, 27, 10, tzinfo=TZ)
    assert next_filter(f, "drill-period", {"drill-period": "7d"}, now).period == "7d"
    dates = {"drill-dates": "2026-11-20", "drill-dates-end": "2026-11-22"}
    custom = next_filter(f, "drill-dates", dates, now)
    assert (custom.period, custom.start, custom.end) == (
        "custom", datetime(2026, 11, 20, tzinfo=TZ), datetime(2026, 11, 23, tzinfo=TZ))
    assert next_filter(f, "drill-step", {"drill-step": None}, now).step is None
    assert next_filter(f, "drill-channel", {"drill-channel": ["wechat", "search"]}, now).channels == (
        "wechat", "search")
    assert next_filter(f, "drill-idle", {"drill-idle": 9999}, now).idle_hours == 2160.0


def test_routes_and_the_click_table():
    assert set(routes()) == {"drill", "drill/channels", "drill/funnel", "drill/cohort", "drill/callback",
                             "drill/money", "drill/series"}
    table = click_config()
    assert all(table["channels"][channel_label(code, lang)] == code
               for code in CHANNELS for lang in ("zh", "en"))
    assert json.loads(json.dumps(table, ensure_ascii=False)) == table


def test_channel_table_speaks_the_pages_language():
    """The acceptance walk found "code", "Export" and a channel named "unknown" on the Chinese page."""
    rows = [{"channel": "douyin", "leads": 5},  # the API names "unknown" as its code
            {"channel": "unknown", "name_zh": "unknown", "name_en": "unknown", "leads": 0}]
    table = channel_table(rows, parse(""))
    assert [row["channel"] for row in table.data] == ["抖音", "未归属渠道"]
    assert table.columns[1]["name"] == "代码" and "导出 CSV" in table.css[1]["rule"]
    assert channel_table(rows, parse("?lang=en")).data[1]["channel"] == "Unattributed"


def test_a_future_period_and_an_unknown_channel_say_no_data():
    """QA: a period that has not begun showed the API's "to must be after from"; an unknown channel on
    the channels view showed every channel."""
    from layouts.drill_api import Answer

    asked = []

    def get(path, params):
        asked.append(path)
        return Answer(200, {"channels": [{"channel": "douyin", "leads": 5}]})
    now = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
    future = parse("?from=2027-01-01T00:00%2B08:00&to=2027-01-02T00:00%2B08:00")
    body, _ = drill_load.load("overview", future, now, get)
    assert "所选时段尚未开始" in json.dumps(body[0].to_plotly_json(), ensure_ascii=False, default=str)
    assert asked == []
    body, _ = drill_load.load("channels", parse("?channel=nosuch"), now, get)
    text = json.dumps(body[0].to_plotly_json(), ensure_ascii=False, default=str)
    assert "暂无数据" in text and "douyin" not in text
    body, _ = drill_load.load("channels", parse("?channel=douyin"), now, get)
    assert "douyin" in json.dumps(body[0].to_plotly_json(), ensure_ascii=False, default=str)


def test_call_back_headline_says_when_the_list_goes_on_and_its_csv_holds_it_all():
    """QA: the headline said "1,000 人" where 2,654 leads had dropped off: the API counts what it returns,
    and the page asks for 1,000."""
    from urllib.parse import parse_qs, urlsplit

    from layouts.drill_api import Answer
    from layouts.drill_filters import resolve

    asked = []

    def get(path, params):
        asked.append(dict(params))
        limit = int(dict(params)["limit"])
        return Answer(200, {"count": min(limit, 2654), "items": []})
    f = parse("?step=5&idle_hours=0")
    view = drill_load.callback(f, resolve(f, datetime.now(TZ)), get, "/")
    text = json.dumps(view[0].to_plotly_json(), ensure_ascii=False, default=str)
    assert "：1,000+ 人" in text and asked[0]["limit"] == "1000"
    csv_url = next(c.to_plotly_json()["props"]["data-csv-url"] for c in view[0].children[1].children
                   if getattr(c, "id", None) == "drill-callback-csv")
    assert parse_qs(urlsplit(csv_url).query)["limit"] == ["100000"]


def test_call_back_list_reads_left_to_right_but_its_numbers():
    item = {"lead_id": "L-9", "phone_masked": "138****1234", "channel": "douyin", "province": "广东",
            "furthest_step": 4, "last_step_at": "2026-11-30T09:00:00+08:00", "idle_hours": 3.5}
    table = callback_table([item], "zh")
    left = {rule["if"]["column_id"] for rule in table.style_cell_conditional if rule["textAlign"] == "left"}
    assert left == {"lead_id", "phone_masked", "channel", "province", "last_step_at"}
    assert table.style_header_conditional == table.style_cell_conditional
    assert table.columns[-1]["format"].to_plotly_json()["specifier"] == ".1f"  # idle hours: 2.1, 3.0
    assert table.data[0]["channel"] == "抖音" and table.data[0]["last_step_at"] == "2026-11-30 09:00:00"


@pytest.fixture
def api_app(ch, redis_client, settings):
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    services = Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine)
    app = Flask(__name__)
    app.register_blueprint(create_api(services))
    raw_events = journeys({"L1": [(s, T0 + timedelta(minutes=s)) for s in range(1, 12)],
                           "L2": [(1, T0), (2, T0 + timedelta(minutes=1))]},
                          channel="douyin", province="云南")
    raw_events += [{**e, "phone": "13812341234"} if e["type"] == "lead" else e for e in
                   journeys({"L3": [(1, T0), (2, T0 + timedelta(minutes=3))]}, channel="wechat")]
    raw_events.append(make_deposit("A-L1", T0 + timedelta(hours=1), "50000.00", first=True))
    now_ms = int((DAY + timedelta(days=1)).timestamp() * 1000)
    store_batch(ch, [validate(e, phone_key="k", now_ms=now_ms) for e in raw_events], [], SinkStats())
    return app


def test_in_process_answers_are_the_apis(api_app):
    with api_app.test_request_context("/_dash-update-component", method="POST"):
        answer = drill_api.get("kpis", [("from", DAY.isoformat()),
                                        ("to", (DAY + timedelta(days=1)).isoformat()), ("channel", "douyin")])
    direct = api_app.test_client().get("/api/v1/kpis", query_string={
        "from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat(), "channel": "douyin"}).get_json()
    assert answer.ok and answer.body == direct and direct["leads"] == 2
    with api_app.test_request_context("/"):
        bad = drill_api.get("funnel/dropped", [("step", "99")])
    assert bad.status == 400 and "step" in bad.error


@pytest.mark.parametrize("view", ["overview", "channels", "funnel", "cohort", "callback", "money", "series"])
def test_every_view_loads_from_the_api(api_app, view):
    f = parse(PERIOD + "&step=2&idle_hours=0&channel=douyin")
    with api_app.test_request_context("/"):
        body, header = drill_load.load(view, f, NOW, drill_api.get, "/")
    text = json.dumps([c.to_plotly_json() if hasattr(c, "to_plotly_json") else c for c in body],
                      default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o),
                      ensure_ascii=False)
    assert "drill-error" not in text, text[:500]
    assert "13812341234" not in text
    assert header.startswith(DAY.strftime("%Y-%m-%d"))
    if view == "overview":
        assert '"data-value": "2"' in text  # douyin's two leads
    if view == "callback":
        assert '"drill-callback-count"' in text and "138****1234" not in text  # L3 is wechat: filtered out


def _plain(node):
    return json.loads(json.dumps(node, default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json")
                                 else str(o), ensure_ascii=False))


def _changed_nodes_have_ids(before: list, after: list) -> None:
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed, "something moved"
    for was, now in changed:
        assert was["props"].get("id") and was["props"]["id"] == now["props"].get("id"), was


def test_a_refresh_where_only_the_freshness_moved_lands_in_place(api_app):
    """assets/drill.js sets a refreshed view's changes on the components that have an id; a change in a
    top-level node without one replaces the whole view, every chart mounted again. The overview's
    freshness note had no id, so a refresh where only its seconds moved remounted the charts (what
    tests/test_drill_browser.py's in-place test caught, now and then, under a loaded CI)."""
    from layouts.drill_api import Answer

    f = parse(PERIOD)
    with api_app.test_request_context("/"):
        kpis = drill_api.get("kpis", [("from", DAY.isoformat()),
                                      ("to", (DAY + timedelta(days=1)).isoformat())])

    def overview(fresh: float) -> list:
        answer = Answer(200, {**kpis.body, "freshness_s": fresh})
        body, _ = drill_load.load("overview", f, NOW, lambda path, params: answer, "/")
        return _plain(body)
    _changed_nodes_have_ids(overview(1.0), overview(7.0))


def test_a_refresh_of_funding_where_only_the_time_moved_lands_in_place(api_app):
    """The same for the funding page: its AUM line says the moment the AUM is for, which moves with every
    refresh of a period reaching now; without an id every chart of the page was mounted again."""
    from layouts.drill_api import Answer

    f = parse(PERIOD)
    with api_app.test_request_context("/"):
        answers = {path: drill_api.get(path, [("from", DAY.isoformat()),
                                              ("to", (DAY + timedelta(days=1)).isoformat())])
                   for path in ("kpis", "assets")}

    def money(at: str) -> list:
        def get(path, params):
            body = answers[path].body
            return Answer(200, {**body, "at": at} if path == "assets" else body)
        body, _ = drill_load.load("money", f, NOW, get, "/")
        return _plain(body)
    _changed_nodes_have_ids(money("2026-11-21T12:00:00+00:00"), money("2026-11-21T12:00:30+00:00"))


def test_a_custom_period_ending_now_is_open(api_app):
    f = DrillFilter(period="custom", start=DAY)
    with api_app.test_request_context("/"):
        _, header = drill_load.load("overview", f, NOW, drill_api.get, "/")
    assert "现在" in header


def _find(node, component_id):
    if getattr(node, "id", None) == component_id:
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        found = _find(child, component_id) if hasattr(child, "to_plotly_json") else None
        if found is not None:
            return found
    return None


@pytest.mark.parametrize(("search", "live"), [
    ("", True), ("?period=7d", True), ("?from=2026-11-20T00:00:00%2B08:00", True),
    ("?period=yesterday", False), ("?from=2026-11-20T00:00:00%2B08:00&to=2026-11-21T00:00:00%2B08:00", False),
])
def test_only_a_period_reaching_now_refreshes_on_its_own(search, live):
    now = datetime(2026, 11, 21, 15, tzinfo=TZ)
    assert refreshes(parse(search), now) is live
    page = layout("cohort", search, "/", now)
    timer = _find(page, "drill-auto")
    assert timer.disabled is (not live) and timer.interval == AUTO_REFRESH_S * 1000
    assert (_find(page, "drill-auto-note") is not None) is live
    assert _find(page, "drill-refresh") is not None  # the button stays either way
