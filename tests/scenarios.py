"""Generated scenarios: small, messy days of events for comparing the pipeline with the oracle.

A scenario is a list of contract-format event dicts in ARRIVAL order: shuffled (late, out of order),
with redeliveries (same event_id, same content) sprinkled in. Most events fall on DAY in Shanghai time,
some on the day before, some within a second of midnight.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st
from oracle import account_for, make_asset, make_call, make_deposit, make_lead, make_step, make_trade

SH = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 21, tzinfo=SH)
CHANNELS = ("douyin", "app_store", "wechat")
PROVINCES = ("云南", "广东", "上海")


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


@st.composite
def lead_journey(draw, lead_id: str) -> list[dict]:
    channel = draw(st.sampled_from(CHANNELS))
    province = draw(st.sampled_from(PROVINCES))
    day = draw(st.sampled_from([DAY, DAY, DAY, DAY - timedelta(days=1)]))
    # Seconds into the day; the edges catch day-boundary mistakes.
    offset = draw(st.one_of(st.integers(0, 86_399 - 7_200), st.sampled_from([0, 86_399 - 7_200])))
    t = day + timedelta(seconds=offset)
    events = [make_lead(lead_id, iso(t), channel=channel, province=province, phone="13812341234")]
    for _ in range(draw(st.integers(0, 3))):
        when = t + timedelta(seconds=draw(st.integers(-60, 7_000)))
        outcome = draw(st.sampled_from(["connected", "no_answer"]))
        events.append(make_call(lead_id, iso(when), outcome=outcome))
    furthest = draw(st.integers(0, 11))
    for step in range(1, furthest + 1):
        t += timedelta(seconds=draw(st.integers(0, 300)))
        if draw(st.integers(0, 9)) == 0:
            events.append(make_step(lead_id, step, iso(t), channel=channel, status="rejected", reason="模糊"))
            t += timedelta(seconds=1)
        events.append(make_step(lead_id, step, iso(t), channel=channel))
    if furthest == 11:
        account = account_for(lead_id)
        for n in range(draw(st.integers(0, 3))):
            t += timedelta(seconds=draw(st.integers(1, 600)))
            direction = draw(st.sampled_from(["in", "in", "out"]))
            events.append(make_deposit(account, iso(t), draw(st.sampled_from(["100.00", "0.01", "5000.50"])),
                                       direction=direction, first=(n == 0 and direction == "in")))
        for _ in range(draw(st.integers(0, 2))):
            t += timedelta(seconds=draw(st.integers(0, 600)))
            events.append(make_asset(account, iso(t), {"stock": draw(st.sampled_from(["10.00", "0"])),
                                                       "cash": draw(st.sampled_from(["1.50", "99"]))},
                                     level="V1", segment="wealth"))
        for _ in range(draw(st.integers(0, 2))):
            t += timedelta(seconds=draw(st.integers(0, 600)))
            events.append(make_trade(account, iso(t), "20.00",
                                     draw(st.sampled_from(["stock", "fund", "wealth"]))))
    return events


@st.composite
def scenario(draw, max_leads: int = 12) -> list[dict]:
    n = draw(st.integers(1, max_leads))
    events = [e for i in range(n) for e in draw(lead_journey(f"L{i}"))]
    arrival = draw(st.permutations(events))
    redelivered = draw(st.lists(st.sampled_from(arrival), max_size=5))
    out = list(arrival)
    for event in redelivered:
        out.insert(draw(st.integers(0, len(out))), dict(event))
    return out
