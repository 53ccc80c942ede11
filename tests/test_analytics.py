"""ecc.olap.analytics against a real chDB (the session's shared engine, `ch` fixture: empty tables per test).

Scenarios are contract-format events passed through the door (`ecc.contract.validate`) and inserted with
`ecc.olap.clickhouse.insert_events`; every expected number is computed by hand in the comments.
Times are Asia/Shanghai; DAY is the Shanghai day 2026-11-21.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from ecc.contract.events import Rejection
from ecc.contract.validate import validate
from ecc.olap import analytics, clickhouse, timeseries
from ecc.timeutil import TZ

DAY = datetime(2026, 11, 21, tzinfo=TZ)
END = DAY + timedelta(days=1)
NOW = DAY + timedelta(days=1, hours=12)
D = Decimal


def at(hours: float = 0, minutes: float = 0, seconds: float = 0, ms: int = 0, base: datetime = DAY) -> str:
    moment = base + timedelta(hours=hours, minutes=minutes, seconds=seconds, milliseconds=ms)
    return moment.isoformat(timespec="milliseconds")


def ev(event_id: str, type_: str, ts: str, **fields) -> dict:
    return {"event_id": event_id, "type": type_, "ts": ts, **fields}


def steps(lead: str, last: int, start: datetime, every_min: float, channel: str, account: str = "") -> list:
    """Done steps 1..last of one lead, `every_min` minutes apart from `start`; step 11 opens `account`."""
    return [ev(f"s-{lead}-{k}", "step", (start + timedelta(minutes=every_min * (k - 1))).isoformat(),
               lead_id=lead, channel=channel, step=k, **({"account_id": account} if k == 11 else {}))
            for k in range(1, last + 1)]


def load(client, raws: list[dict]) -> list:
    clock = int((DAY + timedelta(days=30)).timestamp() * 1000)  # the door accepts every test ts
    events = [validate(raw, phone_key="k", now_ms=clock) for raw in raws]
    clickhouse.insert_events(client, events)
    return events


def base_scenario() -> list[dict]:
    """Four leads on DAY (two douyin, two wechat), one opened account A1 (lead L1, douyin)."""
    return [
        ev("l-0", "lead", at(hours=-1), lead_id="L0", channel="douyin", province="云南"),  # the day before
        ev("l-1", "lead", at(9), lead_id="L1", channel="douyin", province="云南", phone="13812341234"),
        ev("l-2", "lead", at(9, 10), lead_id="L2", channel="douyin", province="广东"),
        ev("l-3", "lead", at(9, 20), lead_id="L3", channel="wechat", province="云南"),
        ev("l-4", "lead", at(9, 30), lead_id="L4", channel="wechat"),  # no province
        ev("c-1", "call", at(9, 5), lead_id="L1", outcome="connected"),
        ev("c-2", "call", at(9, 6), lead_id="L1", outcome="no_answer"),
        ev("c-3", "call", at(9, 15), lead_id="L2", outcome="busy"),
        ev("c-4", "call", at(9), lead_id="L0", outcome="connected"),  # L0 is not a lead of DAY
        *steps("L1", 11, DAY + timedelta(hours=10), 10, "douyin", account="A1"),  # step 11 at 11:40
        ev("s-L2-1", "step", at(10), lead_id="L2", channel="douyin", step=1),
        ev("r-L2-2", "step", at(10, 5), lead_id="L2", channel="douyin", step=2, status="rejected"),
        ev("s-L2-2", "step", at(10, 10), lead_id="L2", channel="douyin", step=2),
        ev("s-L2-3", "step", at(10, 20), lead_id="L2", channel="douyin", step=3),
        ev("s-L3-1", "step", at(10), lead_id="L3", channel="wechat", step=1),
        ev("r-L3-2", "step", at(10, 30), lead_id="L3", channel="wechat", step=2, status="rejected"),
        ev("s-L0-1", "step", at(minutes=-30), lead_id="L0", channel="douyin", step=1),
        ev("s-L0-2", "step", at(0, 10), lead_id="L0", channel="douyin", step=2),
        ev("d-1", "deposit", at(12), account_id="A1", amount="50000.00", first=True),
        ev("d-2", "deposit", at(13), account_id="A1", amount="1000.50", direction="out"),
        ev("d-3", "deposit", at(14), account_id="A1", amount="2000.25", channel="wechat"),  # own channel
        ev("d-4", "deposit", at(hours=-1), account_id="A1", amount="999.99"),  # the day before
        ev("a-1", "asset", at(12, 30), account_id="A1", level="V2", segment="wealth",
           holdings={"stock": 30000, "wealth": 20000, "cash": "512.3"}),
        ev("a-2", "asset", at(15), account_id="A1", level="V3", segment="trading",
           holdings={"stock": "31000", "cash": "100"}),
        ev("a-3", "asset", at(10, base=END), account_id="A1", holdings={"stock": "99999"}),  # after DAY
        ev("t-1", "trade", at(12, 10), account_id="A1", amount="20000", product="wealth"),
        ev("t-2", "trade", at(12, 20), account_id="A1", amount="5000", product="stock"),
    ]


@pytest.fixture
def base(ch):
    events = load(ch, base_scenario())
    # Duplicate rows that ReplacingMergeTree has not merged away yet: merges stopped so they stay.
    ch.command("SYSTEM STOP MERGES events")
    dups = [e for e in events if e.event_id in {"d-1", "t-1", "r-L2-2", "l-1", "s-L1-11", "c-1"}]
    clickhouse.insert_events(ch, dups)
    yield ch
    ch.command("SYSTEM START MERGES events")


def test_duplicates_really_stored(base):
    assert base.command("SELECT count() FROM events WHERE event_id = 'd-1'") == 2


def test_kpis_whole_day(base):
    k = analytics.kpis(base, DAY, END, now=NOW)
    assert set(k) == {"leads", "dialed_leads", "dial_rate", "connected_leads", "reach", "step_conversion",
                      "opened", "open_rate", "rejects", "reject_rate", "first_deposits", "deposit_amount",
                      "net_inflow", "deposit_rate", "aum", "turnover_rate", "wealth_preference",
                      "wealth_preference_by_segment", "freshness_s"}
    assert (k["leads"], k["dialed_leads"], k["connected_leads"]) == (4, 2, 1)
    assert k["dial_rate"] == 0.5
    # reach: 1 = L1 L2 L3; 2 = L1 L2 L0 (flow view: L0's step 2 is on DAY); 3 = L1 L2; 4..11 = L1
    assert k["reach"] == {"1": 3, "2": 3, "3": 2, **{str(s): 1 for s in range(4, 12)}}
    assert k["step_conversion"] == {"1": 1.0, "2": 2 / 3, "3": 0.5, **{str(s): 1.0 for s in range(4, 11)}}
    assert (k["opened"], k["open_rate"]) == (1, 0.25)
    assert k["rejects"] == {**{str(s): 0 for s in range(1, 12)}, "2": 2}  # duplicate row counted once
    assert k["reject_rate"]["2"] == 2 / (3 + 2) and k["reject_rate"]["1"] == 0.0
    assert k["first_deposits"] == 1
    assert k["deposit_amount"] == D("52000.25") and isinstance(k["deposit_amount"], Decimal)
    assert k["net_inflow"] == D("50999.75")
    assert k["deposit_rate"] == 1.0
    assert k["aum"] == D("31100.00")  # a-2, the latest snapshot before the end of DAY
    assert k["turnover_rate"] == pytest.approx(25000 / 31100)
    assert k["wealth_preference"] == {"stock": 0.2, "wealth": 0.8}
    # the segment of the latest snapshot before the end (a-2), not of the one when the trades happened
    assert k["wealth_preference_by_segment"] == {"trading": {"stock": 0.2, "wealth": 0.8}}
    assert k["freshness_s"] == 2 * 3600.0  # a-3 at END + 10h, now END + 12h


def test_kpis_channel_filter_uses_step11_attribution(base):
    douyin = analytics.kpis(base, DAY, END, ["douyin"], now=NOW)
    assert douyin["leads"] == 2 and douyin["reach"]["1"] == 2 and douyin["reach"]["2"] == 3
    assert douyin["rejects"]["2"] == 1
    # d-1 and d-2 carry no channel: douyin through L1's step 11; d-3 says wechat itself
    assert douyin["deposit_amount"] == D("50000.00") and douyin["net_inflow"] == D("48999.50")
    assert douyin["aum"] == D("31100.00") and douyin["first_deposits"] == 1
    wechat = analytics.kpis(base, DAY, END, ["wechat"], now=NOW)
    assert (wechat["leads"], wechat["dialed_leads"], wechat["dial_rate"]) == (2, 0, 0.0)
    assert wechat["step_conversion"]["1"] == 0.0 and wechat["step_conversion"]["2"] is None  # 0 / 0
    assert wechat["deposit_amount"] == D("2000.25") and wechat["first_deposits"] == 0
    assert wechat["deposit_rate"] is None and wechat["aum"] == D("0.00")
    assert wechat["turnover_rate"] is None
    assert wechat["wealth_preference"] == {}  # no trades: no shares
    assert wechat["wealth_preference_by_segment"] == {}


def test_kpis_province_filter_falls_back_to_lead_province(base):
    k = analytics.kpis(base, DAY, END, provinces=["云南"], now=NOW)
    assert k["leads"] == 2  # L1, L3 (L4 names no province)
    assert k["reach"]["1"] == 2 and k["reach"]["2"] == 2  # steps take the lead's province: L1 L3 / L1 L0
    assert k["deposit_amount"] == D("52000.25")  # A1 was opened by L1 (云南)
    assert analytics.kpis(base, DAY, END, provinces=["上海"], now=NOW)["leads"] == 0


def test_kpis_up_to_now(base):
    early = analytics.kpis(base, DAY, END, now=DAY + timedelta(hours=9, minutes=5, seconds=30))
    assert (early["dialed_leads"], early["connected_leads"]) == (1, 1)  # only c-1 (09:05) before now
    assert early["deposit_rate"] == 1.0  # d-4 (the day before, even before the opening) is before now
    earlier = analytics.kpis(base, DAY, END, now=DAY - timedelta(hours=2))
    assert (earlier["dialed_leads"], earlier["deposit_rate"]) == (0, 0.0)
    assert early["freshness_s"] < 0  # events newer than `now` are in the store


def test_kpis_empty_store_ratios_are_none(ch):
    k = analytics.kpis(ch, DAY, END, now=NOW)
    assert k["leads"] == 0 and k["dial_rate"] is None and k["open_rate"] is None
    assert set(k["step_conversion"].values()) == {None} and set(k["reject_rate"].values()) == {None}
    assert k["deposit_amount"] == D("0.00") and k["aum"] == D("0.00") and k["freshness_s"] is None


def test_channels_rows_add_up(base):
    rows = {row["channel"]: row for row in analytics.channels(base, DAY, END, now=NOW)}
    assert set(rows) == {"douyin", "wechat"}
    assert rows["douyin"]["leads"] == 2 and rows["wechat"]["leads"] == 2
    assert rows["douyin"]["deposit_amount"] == D("50000.00")
    assert rows["wechat"]["deposit_amount"] == D("2000.25") and rows["wechat"]["aum"] == D("0.00")
    assert sum((r["net_inflow"] for r in rows.values()), D(0)) == D("50999.75")
    assert rows["douyin"]["freshness_s"] == 7200.0


def test_shanghai_day_boundaries(ch):
    load(ch, [
        ev("l-a", "lead", "2026-11-20T23:59:59.999+08:00", lead_id="A", channel="douyin"),
        ev("l-b", "lead", "2026-11-21T00:00:00+08:00", lead_id="B", channel="douyin"),
        ev("l-c", "lead", "2026-11-20T23:59:00Z", lead_id="C", channel="douyin"),  # 07:59 in Shanghai
        ev("l-d", "lead", "2026-11-21T16:00:00Z", lead_id="D", channel="douyin"),  # 00:00 on the 22nd
    ])
    assert analytics.kpis(ch, DAY, END, now=NOW)["leads"] == 2
    daily = timeseries.series(ch, "leads", "1d", DAY - timedelta(days=1), END + timedelta(days=1))
    assert [(p["t"], p["value"]) for p in daily["points"]] == [
        ("2026-11-20T00:00:00.000+08:00", 1), ("2026-11-21T00:00:00.000+08:00", 2),
        ("2026-11-22T00:00:00.000+08:00", 1)]


def test_series_buckets_filled_and_compared(ch):
    load(ch, [
        ev("l-1", "lead", at(9, 0, 30), lead_id="A", channel="douyin"),
        ev("l-2", "lead", at(9, 0, 59, ms=999), lead_id="B", channel="douyin"),
        ev("l-3", "lead", at(9, 2, 10), lead_id="C", channel="wechat"),
        ev("l-4", "lead", at(9, 0, 10, base=DAY - timedelta(days=1)), lead_id="Y", channel="douyin"),
        ev("l-5", "lead", at(9, 2, base=DAY - timedelta(days=7)), lead_id="W", channel="douyin"),
    ])
    s = timeseries.series(ch, "leads", "1m", DAY + timedelta(hours=9), DAY + timedelta(hours=9, minutes=3))
    assert [p["t"] for p in s["points"]] == [at(9), at(9, 1), at(9, 2)]
    assert [p["value"] for p in s["points"]] == [2, 0, 1]
    assert [p["value"] for p in s["previous_day"]] == [1, 0, 0]
    assert [p["value"] for p in s["previous_week"]] == [0, 0, 1]
    assert [p["t"] for p in s["previous_week"]] == [p["t"] for p in s["points"]]  # reported aligned
    douyin = timeseries.series(ch, "leads", "5m", DAY + timedelta(hours=9, seconds=20),  # mid-bucket start
                              DAY + timedelta(hours=9, minutes=10), channels=["douyin"])
    assert [(p["t"], p["value"]) for p in douyin["points"]] == [(at(9), 2), (at(9, 5), 0)]
    # A late event lands in its event-time bucket.
    load(ch, [ev("l-late", "lead", at(9, 1, 30), lead_id="Z", channel="douyin")])
    s = timeseries.series(ch, "leads", "1m", DAY + timedelta(hours=9), DAY + timedelta(hours=9, minutes=3))
    assert [p["value"] for p in s["points"]] == [2, 1, 1]


def test_series_metrics_from_base(base):
    def values(metric, interval="1h", start=DAY + timedelta(hours=9), end=DAY + timedelta(hours=16), **kw):
        return [p["value"] for p in timeseries.series(base, metric, interval, start, end, **kw)["points"]]

    #                                   09      10      11     12          13      14    15
    assert values("deposit_amount") == [0, 0, 0, D("50000.00"), 0, D("2000.25"), 0]  # d-1 duplicate once
    assert values("net_inflow") == [0, 0, 0, D("50000.00"), D("-1000.50"), D("2000.25"), 0]
    assert values("trade_amount")[3] == D("25000.00")
    assert values("first_deposits")[3] == 1
    assert values("calls") == [4, 0, 0, 0, 0, 0, 0]  # c-1 duplicate counted once
    assert values("calls", channels=["douyin"]) == [4, 0, 0, 0, 0, 0, 0]  # via the leads' channel
    assert values("calls", channels=["wechat"]) == [0] * 7
    assert values("leads") == [4, 0, 0, 0, 0, 0, 0]
    assert values("dialed_leads") == [2, 0, 0, 0, 0, 0, 0]
    assert values("reach_1")[1] == 3 and values("reach_2")[1] == 2 and values("opened")[2] == 1
    assert values("deposit_amount", provinces=["广东"]) == [0] * 7
    with pytest.raises(timeseries.UnknownMetric):
        timeseries.series(base, "nope", "1h", DAY, END)


def test_funnel_cohort_and_time_to_convert(base):
    f = analytics.funnel(base, DAY, END)
    # cohort = L1 (level 11), L2 (level 3), L3 (level 1; its step 2 was rejected); L0 started the day before
    assert f["cohort"] == {"1": 3, "2": 2, "3": 2, **{str(s): 1 for s in range(4, 12)}}
    assert f["overall_conversion"]["1"] == 1.0 and f["overall_conversion"]["11"] == 1 / 3
    assert f["step_conversion"]["1"] == 2 / 3 and f["step_conversion"]["3"] == 0.5
    assert f["time_to_convert"] == {"count": 1, "p50_s": 6000.0, "p90_s": 6000.0, "p99_s": 6000.0,
                                    "mean_s": 6000.0}
    assert analytics.funnel(base, DAY, END, 72, ["wechat"])["cohort"]["1"] == 1
    empty = analytics.funnel(base, END, END + timedelta(days=1))
    assert empty["cohort"]["1"] == 0 and empty["overall_conversion"]["1"] is None
    assert empty["time_to_convert"]["p50_s"] is None


def window_scenario() -> list[dict]:
    t = DAY + timedelta(hours=1)
    return [
        ev("l-W1", "lead", at(1), lead_id="W1", channel="douyin", province="云南"),
        ev("s-W1-1", "step", t.isoformat(), lead_id="W1", channel="douyin", step=1),
        ev("s-W1-2", "step", (t + timedelta(hours=1)).isoformat(), lead_id="W1", channel="douyin", step=2),
        ev("s-W1-3", "step", (t + timedelta(hours=72)).isoformat(), lead_id="W1", channel="douyin", step=3),
        ev("s-W1-4", "step", (t + timedelta(hours=72, milliseconds=1)).isoformat(), lead_id="W1",
           channel="douyin", step=4),
        ev("l-W2", "lead", at(1), lead_id="W2", channel="douyin", phone="13912345678"),
        ev("s-W2-1", "step", at(2), lead_id="W2", channel="douyin", step=1),
        ev("s-W2-3", "step", at(2, 10), lead_id="W2", channel="douyin", step=3),  # before step 2
        ev("s-W2-2", "step", at(2, 20), lead_id="W2", channel="douyin", step=2),
        *steps("W3", 11, DAY + timedelta(hours=3), 10, "douyin", account="AW3"),  # 100 min
        *steps("W4", 11, DAY + timedelta(hours=4), 20, "douyin", account="AW4"),  # 200 min
        ev("s-W5-1", "step", at(5), lead_id="W5", channel="douyin", step=1),
        ev("r-W5-2", "step", at(5, 1), lead_id="W5", channel="douyin", step=2, status="rejected"),
        ev("s-W6-1", "step", at(6), lead_id="W6", channel="douyin", step=1),
        ev("s-W7-0", "step", at(hours=-2), lead_id="W7", channel="douyin", step=1),  # first step 1 before
        ev("s-W7-1", "step", at(7), lead_id="W7", channel="douyin", step=1),
        ev("s-W7-2", "step", at(7, 1), lead_id="W7", channel="douyin", step=2),
    ]


def test_window_funnel_cut_off_and_quantiles(ch):
    load(ch, window_scenario())
    f = analytics.funnel(ch, DAY, END)
    # levels: W1 3 (step 3 exactly at 72 h counts, step 4 1 ms later does not), W2 2, W3 11, W4 11, W5 1, W6 1
    assert f["cohort"] == {"1": 6, "2": 4, "3": 3, **{str(s): 2 for s in range(4, 12)}}
    assert f["time_to_convert"] == {"count": 2, "p50_s": 9000.0, "p90_s": 11400.0,
                                    "p99_s": pytest.approx(11940.0), "mean_s": 9000.0}
    short = analytics.funnel(ch, DAY, END, window_hours=1)
    # within 1 h: W1 2 (step 2 exactly at 1 h counts), W2 2, W3 7 (10-minute steps), W4 4, W5 1, W6 1
    assert short["window_hours"] == 1
    assert short["cohort"] == {"1": 6, "2": 4, "3": 2, "4": 2, "5": 1, "6": 1, "7": 1, "8": 0, "9": 0,
                               "10": 0, "11": 0}
    assert short["time_to_convert"]["count"] == 0


def test_dropped_lists_newest_first(ch):
    events = {e.event_id: e for e in load(ch, window_scenario())}
    rows = analytics.dropped(ch, DAY, END, 1)
    assert [(r["lead_id"], r["last_step_at"]) for r in rows] == [("W6", at(6)), ("W5", at(5))]
    (w2,) = analytics.dropped(ch, DAY, END, 2, 72, ["douyin"], now=END)
    idle = round((END - datetime.fromisoformat(at(2, 20))).total_seconds() / 3600, 2)
    assert w2 == {"lead_id": "W2", "channel": "douyin", "phone_masked": events["l-W2"].phone_masked,
                  "province": "", "furthest_step": 2, "last_step_at": at(2, 20), "idle_hours": idle}
    assert "****" in w2["phone_masked"] and "13912345678" not in json.dumps(w2)
    (w1,) = analytics.dropped(ch, DAY, END, 3, provinces=["云南"])
    # its last done step: step 4, 1 ms too late for the window but the last time it was seen
    assert w1["last_step_at"] == at(73, ms=1)
    assert analytics.dropped(ch, DAY, END, 1, limit=1)[0]["lead_id"] == "W6"
    # the call-back list leaves out leads still moving: idle for less than idle_hours at `now`
    # (W6's last step at 06:00, W5's at 05:00: at 07:00 only W5 has been idle for 2 hours)
    seven = DAY + timedelta(hours=7)
    assert [r["lead_id"] for r in analytics.dropped(ch, DAY, END, 1, idle_hours=2, now=seven)] == ["W5"]
    with pytest.raises(ValueError):
        analytics.dropped(ch, DAY, END, 1, idle_hours=-1)
    with pytest.raises(ValueError):
        analytics.dropped(ch, DAY, END, 11)


def test_assets_latest_snapshot_and_attribution(ch):
    hold = {"stock": "1"}
    load(ch, [
        ev("l-P1", "lead", at(8), lead_id="P1", channel="douyin", province="云南"),
        ev("l-P2", "lead", at(8), lead_id="P2", channel="wechat", province="广东"),
        ev("s-P1-11", "step", at(9), lead_id="P1", channel="douyin", step=11, account_id="B1"),
        ev("s-P2-11", "step", at(9), lead_id="P2", channel="wechat", step=11, account_id="B2"),
        ev("ab-1", "asset", at(10), account_id="B1", holdings={"stock": "100"}),
        ev("ab-2", "asset", at(12), account_id="B1", holdings={"stock": "200"}),
        ev("ab-3", "asset", at(12), account_id="B1", holdings={"stock": "300"}, level="V1"),  # tie: ab-3 wins
        ev("ab-4", "asset", at(13), account_id="B1", holdings={"stock": "999"}),  # not before 13:00
        ev("ab-5", "asset", at(10, 30), account_id="B2", holdings=hold),  # province 广东 via P2
        ev("ab-6", "asset", at(11), account_id="B2", holdings={"fund": "50", "cash": "0.5"}, level="V0",
           segment="allocation", province="上海", channel="search"),
        ev("ab-7", "asset", at(11), account_id="B3", holdings={"bond": "7"}),  # never opened
    ])
    a = analytics.assets(ch, DAY + timedelta(hours=13))
    assert a["at"] == at(13) and a["total"] == D("357.50")
    assert a["by_class"] == {"stock": D("300.00"), "fund": D("50.00"), "wealth": D("0.00"),
                             "bond": D("7.00"), "cash": D("0.50")}
    assert a["by_channel"] == {"unknown": D("7.00"), "douyin": D("300.00"), "search": D("50.50")}
    assert a["by_province"] == {"unknown": D("7.00"), "上海": D("50.50"), "云南": D("300.00")}
    assert a["by_level"] == {"unknown": D("7.00"), "V0": D("50.50"), "V1": D("300.00")}
    assert a["by_segment"] == {"unknown": D("307.00"), "allocation": D("50.50")}
    assert analytics.assets(ch, DAY + timedelta(hours=12))["by_channel"]["douyin"] == D("100.00")
    # before B2's snapshot that names its channel and province, its older one is attributed through P2
    # (looked up although B2's newest snapshot needs no lookup)
    earlier = analytics.assets(ch, DAY + timedelta(hours=10, minutes=45))
    assert earlier["by_channel"] == {"douyin": D("100.00"), "wechat": D("1.00")}
    assert earlier["by_province"] == {"云南": D("100.00"), "广东": D("1.00")}
    # the filter applies to the latest snapshot: B2 is 上海 now, its older 广东 snapshot does not count
    assert analytics.assets(ch, DAY + timedelta(hours=13), provinces=["广东"])["total"] == D("0.00")
    assert analytics.assets(ch, DAY + timedelta(hours=13), ["wechat"])["total"] == D("0.00")
    assert analytics.assets(ch, DAY + timedelta(hours=13), ["douyin", "search"])["total"] == D("350.50")


def test_wealth_preference_by_segment(ch):
    hold = {"stock": "1"}
    load(ch, [
        ev("s-P1-11", "step", at(9), lead_id="P1", channel="douyin", step=11, account_id="B1"),
        ev("s-P2-11", "step", at(9), lead_id="P2", channel="wechat", step=11, account_id="B2"),
        ev("ab-1", "asset", at(10), account_id="B1", segment="trading", holdings=hold),
        ev("ab-2", "asset", at(14), account_id="B1", segment="wealth", holdings=hold),
        ev("ab-3", "asset", at(11), account_id="B2", segment="allocation", holdings=hold),
        ev("ab-4", "asset", at(11), account_id="B2", segment="trading", holdings=hold),  # tie: ab-4 wins
        ev("ab-5", "asset", at(2, base=END), account_id="B2", segment="wealth", holdings=hold),  # after END
        ev("tb-1", "trade", at(12), account_id="B1", amount="300", product="stock"),
        ev("tb-2", "trade", at(13), account_id="B1", amount="100", product="fund"),
        ev("tb-3", "trade", at(12), account_id="B2", amount="50", product="bond"),
        ev("tb-4", "trade", at(12), account_id="B3", amount="10", product="stock"),  # no snapshot, no opener
        ev("tb-5", "trade", at(hours=-1), account_id="B1", amount="999", product="wealth"),  # the day before
    ])
    # B1: ab-2 (14:00, before END) says wealth; B2: ab-4 says trading; B3 has no snapshot
    day = analytics.kpis(ch, DAY, END, now=NOW)
    assert day["wealth_preference_by_segment"] == {"trading": {"bond": 1.0}, "unknown": {"stock": 1.0},
                                                   "wealth": {"fund": 0.25, "stock": 0.75}}
    assert day["wealth_preference"] == {"bond": 50 / 460, "fund": 100 / 460, "stock": 310 / 460}
    # up to 13:00: tb-2 is out and B1's latest snapshot is ab-1 (trading)
    morning = analytics.kpis(ch, DAY, DAY + timedelta(hours=13), now=NOW)["wealth_preference_by_segment"]
    assert morning == {"trading": {"bond": 50 / 350, "stock": 300 / 350}, "unknown": {"stock": 1.0}}
    rows = {r["channel"]: r["wealth_preference_by_segment"]
            for r in analytics.channels(ch, DAY, END, now=NOW)}
    assert rows == {"douyin": {"wealth": {"fund": 0.25, "stock": 0.75}}, "wechat": {"trading": {"bond": 1.0}},
                    "unknown": {"unknown": {"stock": 1.0}}}  # B3 was never opened
    wechat = analytics.kpis(ch, DAY, END, ["wechat"], now=NOW)  # B2 through P2's step 11
    assert wechat["wealth_preference_by_segment"] == {"trading": {"bond": 1.0}}


def test_rejects_newest_first_deduplicated(ch):
    def rejection(n: int, ms: int) -> Rejection:
        return Rejection(reason=f"bad {n}", raw=f'{{"n":{n}}}', source="http", received_ms=ms,
                         reject_id=f"r{n}")

    base_ms = int(DAY.timestamp() * 1000)
    batch = [rejection(1, base_ms), rejection(2, base_ms + 2000), rejection(3, base_ms + 1000)]
    clickhouse.insert_rejects(ch, batch)
    clickhouse.insert_rejects(ch, batch[:1])  # a redelivered dead letter stored twice by mistake
    assert clickhouse.existing_reject_ids(ch, ["r1", "r9"]) == {"r1"}
    page = analytics.rejects(ch, limit=2)
    assert page["total"] == 3
    assert [i["reason"] for i in page["items"]] == ["bad 2", "bad 3"]
    assert page["items"][0] == {"received_at": at(seconds=2), "reason": "bad 2", "raw": '{"n":2}',
                                "source": "http"}
    assert [i["reason"] for i in analytics.rejects(ch, limit=5, offset=2)["items"]] == ["bad 1"]


def test_existing_ids_ping_and_threads(base):
    assert clickhouse.existing_ids(base, ["l-1", "d-1", "nope"]) == {"l-1", "d-1"}
    assert clickhouse.existing_ids(base, []) == set()
    assert clickhouse.ping(base) is True
    # web threads share the one chDB client: the per-client lock keeps their answers whole
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: analytics.kpis(base, DAY, END, now=NOW)["net_inflow"], range(8)))
    assert answers == [D("50999.75")] * 8


def _bundle(client) -> str:
    """Every function's answer on one store, as JSON (for comparing time zones)."""
    out = {
        "kpis": analytics.kpis(client, DAY, END, now=NOW),
        "channels": analytics.channels(client, DAY, END, now=NOW),
        "funnel": analytics.funnel(client, DAY, END),
        "dropped": analytics.dropped(client, DAY, END, 1, now=NOW),  # idle_hours: not the clock's
        "assets": analytics.assets(client, END),
        **{f"series_{i}": timeseries.series(client, "leads", i, DAY - timedelta(days=1), END)
           for i in ("1d", "1h")},
        "net_1d": timeseries.series(client, "net_inflow", "1d", DAY, END),
    }
    return json.dumps(out, default=str, sort_keys=True)


def test_same_results_in_other_session_time_zones(base):
    reference = _bundle(base)
    assert '"leads": 4' in reference
    try:
        for zone in ("America/New_York", "Asia/Kolkata", "UTC"):
            base.set_client_setting("session_timezone", zone)
            assert base.command("SELECT timezone()") == zone
            assert _bundle(base) == reference, zone
    finally:
        base.set_client_setting("session_timezone", "")  # back to the process default


def test_same_results_in_a_process_in_new_york(base, tmp_path):
    """chDB takes the process time zone as the server's: run the same scenario in a TZ=New York child."""
    script = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from ecc.olap import clickhouse; import test_analytics as t\n"
        "c = clickhouse.connect('chdb://' + sys.argv[3]); clickhouse.apply_schema(c)\n"
        "t.load(c, t.base_scenario()); print(t._bundle(c))\n"
    )
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TZ": "America/New_York"}
    child = subprocess.run([sys.executable, "-c", script, str(repo), str(repo / "tests"),
                            str(tmp_path / "ny")], env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    # the child has no duplicate rows: the answers must still be identical
    assert child.stdout.strip().splitlines()[-1] == _bundle(base)


def test_every_query_file_is_parameterised_and_runs(ch):
    placeholder = re.compile(r"%\(|%s|\{\}|\{[A-Za-z_]\w*\}")  # Python formatting, not {name:Type}
    bound = re.compile(r"\{(\w+):([^}]+)\}")
    samples = {"DateTime64(3, 'UTC')": DAY, "DateTime('UTC')": DAY, "Array(String)": [], "Bool": False,
               "String": "leads", "UInt8": 1, "UInt32": 5, "UInt64": 3_600_000, "Int64": 1_700_000_000_000}
    names = [p.name[:-4] for p in resources.files("queries").iterdir() if p.name.endswith(".sql")]
    assert len(names) >= 12
    for name in names:
        text = clickhouse.load_query(name)
        assert not placeholder.search(text), name
        assert text.lstrip().startswith("--"), f"{name}.sql starts with a comment saying what it is"
        if name in ("schema", "truncate"):
            continue  # statements run by apply_schema / truncate_all in every session
        params = {key: samples[kind] for key, kind in bound.findall(text)}
        ch.query(text, parameters=params)  # raises on a syntax or type error


def test_rollups_merge_rows_kept_in_separate_parts(ch):
    """Each event inserted on its own (one part each, newest first): the rollups must still answer with
    the earliest lead event, the first opener and the latest snapshot. Reading `first_lead.province`-style
    subcolumns under FINAL took one part's row unmerged (chDB 26.9); the queries use tupleElement."""
    ch.command("SYSTEM STOP MERGES")
    try:
        for raw in [
            ev("l-late", "lead", at(11), lead_id="L1", channel="douyin", province="广东"),
            ev("l-first", "lead", at(9), lead_id="L1", channel="douyin", province="云南"),
            ev("s-11b", "step", at(12), lead_id="L2", channel="wechat", step=11, account_id="A1"),
            ev("s-11a", "step", at(10), lead_id="L1", channel="douyin", step=11, account_id="A1"),
            ev("a-new", "asset", at(13), account_id="A1", holdings={"cash": "10.00"}),
            ev("a-old", "asset", at(12), account_id="A1", holdings={"cash": "1.50"}),
        ]:
            load(ch, [raw])
        assert ch.command("SELECT count() FROM system.parts WHERE table = 'account_latest' AND active") == 2
        # L1 by its first lead event, L1 again by the late one's own province
        assert analytics.kpis(ch, DAY, END, provinces=["云南"], now=NOW)["leads"] == 1
        assert analytics.kpis(ch, DAY, END, provinces=["广东"], now=NOW)["leads"] == 1
        aum = analytics.assets(ch, END)
        assert aum["total"] == D("10.00")  # a-new, the latest
        assert aum["by_channel"] == {"douyin": D("10.00")}  # opened by L1's step 11 (the first)
        assert aum["by_province"] == {"云南": D("10.00")}  # L1's first lead event
        assert analytics.assets(ch, DAY + timedelta(hours=12, minutes=30))["total"] == D("1.50")
    finally:
        ch.command("SYSTEM START MERGES")


def test_lead_progress_merges_rows_kept_in_separate_parts(ch):
    """The cohort funnel reads each lead's first step 1 and its done steps from the rollup lead_progress:
    with merges stopped and a lead's steps in four parts (the later step 1 first, a duplicate last), the
    lead belongs to the cohort of its earliest step 1 only; its level and last step come from all parts."""
    ch.command("SYSTEM STOP MERGES")
    try:
        for raw in [
            ev("s-L3-1b", "step", at(10), lead_id="L3", channel="wechat", step=1),
            ev("s-L3-2", "step", at(10, 30), lead_id="L3", channel="wechat", step=2),
            ev("s-L3-1a", "step", at(-2), lead_id="L3", channel="douyin", step=1),  # the day before
            ev("s-L3-2", "step", at(10, 30), lead_id="L3", channel="wechat", step=2),  # a duplicate row
        ]:
            load(ch, [raw])
        assert ch.command("SELECT count() FROM system.parts WHERE table = 'lead_progress' AND active") == 4
        assert analytics.funnel(ch, DAY, END)["cohort"]["1"] == 0  # not a lead of DAY's cohort
        before = analytics.funnel(ch, DAY - timedelta(days=1), DAY)
        assert (before["cohort"]["1"], before["cohort"]["2"], before["cohort"]["3"]) == (1, 1, 0)
        rows = analytics.dropped(ch, DAY - timedelta(days=1), DAY, 2, now=NOW)
        assert [(r["lead_id"], r["channel"], r["last_step_at"]) for r in rows] == [
            ("L3", "douyin", at(10, 30))]  # the channel of its first step 1, the last step of any part
    finally:
        ch.command("SYSTEM START MERGES")


def test_aum_of_every_account_merges_rows_kept_in_separate_parts(ch):
    """AUM reads every account through FINAL (account_latest for the snapshot, account_attrs for the
    opener): with merges stopped and an account's rows in separate parts, the later one first, its latest
    snapshot and its first opener win, as they do when the rows are merged."""
    ch.command("SYSTEM STOP MERGES")
    try:
        for raw in [
            ev("s-Q2-11", "step", at(12), lead_id="Q2", channel="wechat", step=11, account_id="C1"),
            ev("a-C1-2", "asset", at(14), account_id="C1", holdings={"stock": "20"}, province="上海"),
            ev("s-Q1-11", "step", at(9), lead_id="Q1", channel="douyin", step=11, account_id="C1"),
            ev("a-C1-1", "asset", at(13), account_id="C1", holdings={"stock": "10"}, province="上海"),
        ]:
            load(ch, [raw])
        for table in ("account_latest", "account_attrs"):
            assert ch.command(f"SELECT count() FROM system.parts WHERE table = '{table}' AND active") == 2
        a = analytics.assets(ch, DAY + timedelta(hours=15))
        assert a["total"] == D("20.00") and a["by_channel"] == {"douyin": D("20.00")}
        assert analytics.assets(ch, DAY + timedelta(hours=15), ["wechat"])["total"] == D("0.00")
        assert analytics.kpis(ch, DAY, END, now=NOW)["aum"] == D("20.00")
    finally:
        ch.command("SYSTEM START MERGES")
