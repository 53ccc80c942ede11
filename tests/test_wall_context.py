"""The wall's context over real chDB, Valkey and SQLite: its comparisons, trend companions, baseline and
provinces are the API's own answers for the same windows (no browser; tests/test_wall_browser.py shows
them on the screen)."""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from oracle import account_for, journeys, make_asset, make_call, make_deposit, parse_ts

from ecc import metadata
from ecc.contract.validate import validate
from ecc.live.live_store import LiveStore
from ecc.services import Services
from ecc.sink import SinkStats, store_batch
from ecc.timeutil import TZ
from ecc.web.answer_cache import AnswerCache
from ecc.web.api import create_api
from layouts import compare, context

PROVINCES = ("广东", "上海", "云南")


def scenario_events(now: datetime, leads_per_day: int = 40, seed: int = 7) -> list[dict]:
    """Leads, steps, calls, deposits and assets on today and each of the 7 days before, all at times of
    day before `now`'s minute (and some after it on past days, which a same-time window must leave out)."""
    rnd = random.Random(seed)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now.replace(second=0, microsecond=0) - midnight).total_seconds()
    events = []
    for day in range(8):
        start = midnight - timedelta(days=day)
        for i in range(leads_per_day):
            lead = f"L{day}-{i}"
            late = day > 0 and i % 5 == 0  # after the same time of day: outside the compared window
            offset = rnd.uniform(elapsed, 86_000) if late else rnd.uniform(0, max(1.0, elapsed - 900))
            t0 = start + timedelta(seconds=offset)
            furthest = rnd.randint(1, 11)
            plan = [(k, min(t0 + timedelta(seconds=30 * k), now - timedelta(seconds=5)))
                    for k in range(1, furthest + 1)]
            events += journeys({lead: plan}, channel=rnd.choice(("douyin", "wechat")),
                               province=rnd.choice(PROVINCES), lead_ts=t0)
            if i % 2 == 0:
                events.append(make_call(lead, min(t0 + timedelta(seconds=20), now - timedelta(seconds=5))))
            if furthest == 11:
                account = account_for(lead)
                when = min(plan[-1][1] + timedelta(seconds=5), now - timedelta(seconds=1))
                events.append(make_deposit(account, when, f"{rnd.randint(1, 900)}000.00", first=True))
                holdings = {"stock": f"{rnd.randint(1, 90)}000", "cash": "10.50"}
                events.append(make_asset(account, when, holdings, province=rnd.choice(PROVINCES)))
    return events


@pytest.fixture
def stack(ch, redis_client, settings):
    now = datetime.now(TZ)
    if now.hour == 0 and now.minute < 20:
        pytest.skip("the first minutes of a Shanghai day have no time of day to compare yet")
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    live = LiveStore(redis_client)
    services = Services(settings=settings, live=live, ch=ch, meta=engine)
    raw = scenario_events(now)
    now_ms = int(now.timestamp() * 1000) + 60_000
    events = [validate(e, phone_key="k", now_ms=now_ms) for e in raw]
    store_batch(ch, events, [], SinkStats())
    live.apply(events, now=now.date(), count_rate=False)
    app = Flask(__name__)
    app.register_blueprint(create_api(services))
    wall_context = context.WallContext(ch, engine, AnswerCache(redis_client))
    return app.test_client(), wall_context, live, now


def test_comparisons_trend_baseline_and_provinces_are_the_apis(stack):
    client, wall_context, live, now = stack
    ctx = wall_context.refresh(now)
    assert ctx["cut"] == context.minute_cut(now).isoformat()
    for shift, days in (("previous_day", 1), ("previous_week", 7)):
        window = ctx["compare"][shift]
        start, end = context.shifted_window(context.minute_cut(now), days)
        assert (window["from"], window["to"]) == (start.isoformat(), end.isoformat())
        api = client.get("/api/v1/kpis", query_string={"from": window["from"], "to": window["to"]}).get_json()
        assert api["leads"] > 0
        for key in context.COMPARE_KEYS:
            assert window["kpis"][key] == api[key], (shift, key)
        # the card shows exactly that base (data-base) beside today's live number
        snap = {**live.snapshot(now.date()), "context": ctx}
        items = compare.kpi_compare("leads", snap, "zh")
        props = next(p for p in (i.to_plotly_json()["props"] for i in items) if p["data-shift"] == shift)
        assert props["data-base"] == str(api["leads"]) and props["data-to"] == window["to"]
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    series = client.get("/api/v1/series", query_string={
        "metric": "leads", "interval": "1m", "from": midnight.isoformat(), "to": ctx["cut"]}).get_json()
    for shift in ("previous_day", "previous_week"):
        assert [value for _, value in ctx["trend"][shift]] == [p["value"] for p in series[shift]]
        assert sum(value for _, value in ctx["trend"][shift]) > 0
    # the baseline: the median of the same hours' step conversion on each of the last 7 days
    cut = datetime.fromisoformat(ctx["baseline"]["cut"])
    days = []
    for shift in range(1, 8):
        start, end = context.shifted_window(cut, shift)
        days.append(client.get("/api/v1/kpis", query_string={"from": start.isoformat(),
                                                             "to": end.isoformat()}).get_json())
    for k in range(1, 11):
        usable = [d["step_conversion"][str(k)] for d in days
                  if d["step_conversion"][str(k)] is not None and d["reach"][str(k)] >= 20]
        expected = statistics.median(usable) if usable else None
        assert ctx["baseline"]["steps"][str(k)]["median"] == (pytest.approx(expected) if usable else None)
    assets = client.get("/api/v1/assets").get_json()
    assert ctx["assets"]["by_province"] == assets["by_province"]
    assert set(PROVINCES) & set(assets["by_province"])
    assert ctx["alerts"] in ([], None)  # no alert today (None: the alerts module is not there)
    # the watermarks' times: ClickHouse's newest event when the context was computed, the alerts' read
    newest = max(parse_ts(e["ts"]) for e in scenario_events(now))
    assert ctx["newest_ms"] == int(newest.timestamp() * 1000)
    before = int(time.time() * 1000)
    provide = context.with_context(lambda: live.snapshot(now.date()), wall_context)
    assert provide()["alerts_read_ms"] <= before and provide()["context"]["newest_ms"] == ctx["newest_ms"]


def test_context_is_computed_once_a_minute_and_shared(stack, redis_client):
    _, wall_context, _, now = stack
    first = wall_context.refresh(now)
    runs = wall_context.computed
    assert wall_context.refresh(now) == first and wall_context.computed == runs  # from the shared cache
    other_worker = context.WallContext(wall_context.ch, wall_context.meta, AnswerCache(redis_client))
    assert other_worker.refresh(now)["compare"] == first["compare"] and other_worker.computed == 0
    # get() never waits: a fresh process answers at once (empty) and computes in the background
    fresh = context.WallContext(wall_context.ch, wall_context.meta, None)
    assert "compare" not in fresh.get()
    for _ in range(200):
        if "compare" in fresh.get():
            break
        time.sleep(0.05)
    assert fresh.get()["compare"] == first["compare"]


def test_a_firing_alert_in_the_store_reaches_the_banner(stack):
    """An alert written by the alerts store (ecc.alerts) shows in the red banner, as /api/v1/alerts has it."""
    from sqlalchemy.orm import Session

    from ecc.alerts.models import Alert
    from ecc.alerts.store import list_alerts
    from layouts import alerts_view

    _, wall_context, live, now = stack
    started = int(now.timestamp() * 1000) - 60_000
    with Session(wall_context.meta) as session:
        session.add(Alert(rule_id=1, kind="step_conversion_drop", channel="douyin", step=5, state="firing",
                          active_key="1|douyin|5", started_ms=started, fired_ms=started, window_ms=600_000,
                          observed=0.12, baseline=0.3, sample=80, p_value=0.001))
        session.commit()
    ctx = wall_context.refresh(now)
    assert ctx["alerts"] == list_alerts(wall_context.meta)
    children, css = alerts_view.banner({**live.snapshot(now.date()), "context": ctx}, "zh")
    assert css == "alert-strip strip-firing"
    assert "断点转化率下降 · 抖音 · 步骤 5 · 观测 12.0% · 基线 30.0%" in str(children[0].to_plotly_json())


def test_the_screens_aum_counts_accounts_whose_last_snapshot_is_older_than_the_live_window(stack, ch):
    """Issue 8 acceptance walk: the wall's AUM was 8% below /api/v1/assets on the demo. AUM sums every
    account's latest snapshot, however old (docs/metrics.md), but the live store leaves events older
    than its 8-day window to ClickHouse: an account whose last snapshot is 10 days old was missing from
    the donut, its centre and the turnover rate. They read the context's AUM (the API's function) now."""
    from layouts import figures, money_views
    from layouts.formatting import fmt_money

    client, wall_context, live, now = stack
    old = validate(make_asset("A-DORMANT", now - timedelta(days=10), {"fund": "7000000.00"}, province="上海"),
                   phone_key="k", now_ms=int(now.timestamp() * 1000))
    store_batch(ch, [old], [], SinkStats())
    live.apply([old], now=now.date(), count_rate=False)  # left to ClickHouse: older than the live window
    api = client.get("/api/v1/assets").get_json()
    assert Decimal(api["by_province"]["上海"]) >= Decimal("7000000.00")
    snap = {**live.snapshot(now.date()), "context": wall_context.refresh(now)}
    figure = figures.asset_figure(snap, "zh")
    by_class = [float(v) for v in api["by_class"].values() if Decimal(v) > 0]
    assert sorted(figure.data[0].values) == sorted(by_class)
    assert fmt_money(api["total"], "zh") in figure.layout.annotations[0].text
    kpis = client.get("/api/v1/kpis").get_json()
    assert money_views.turnover_rate(snap) == pytest.approx(kpis["turnover_rate"], rel=1e-9)
