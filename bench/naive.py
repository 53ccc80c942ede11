"""The naive path: the same questions as bench/queries.py asked the way a BI tool would, straight over
the raw `events` table (no rollup, no attribution table), on the same ClickHouse in the same run.

One SQL per dashboard tile, as a BI tool issues them; attribution ("a deposit without a channel belongs
to the channel of the step-11 event that opened the account", "a step's province is its lead's") by
argMin subqueries over the events. These are measurements only: the numbers they return are not used.
"""

from __future__ import annotations

from datetime import datetime, timedelta

OPENER = """(SELECT account_id, argMin(lead_id, (ts, event_id)) AS lead_id,
          argMin(channel, (ts, event_id)) AS channel
   FROM events WHERE type = 'step' AND step = 11 AND status = 'done' GROUP BY account_id)"""
LEAD_PROVINCE = """(SELECT lead_id, argMin(province, (ts, event_id)) AS province
   FROM events WHERE type = 'lead' GROUP BY lead_id)"""
PERIOD = "ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}"
CHANNEL = "(empty({channels:Array(String)}) OR has({channels:Array(String)}, channel))"
PROVINCE = "(empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province))"

LEADS = f"""SELECT if({{by_channel:Bool}}, channel, '') AS g, uniqExact(lead_id) AS leads,
  uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM events WHERE type = 'call'
                                   AND ts < {{end:DateTime64(3, 'UTC')}})) AS dialed,
  uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM events WHERE type = 'call' AND outcome = 'connected'
                                   AND ts < {{end:DateTime64(3, 'UTC')}})) AS connected
FROM (SELECT e.lead_id AS lead_id, e.channel AS channel,
             if(e.province != '', e.province, p.province) AS province
      FROM events AS e LEFT JOIN {LEAD_PROVINCE} AS p USING lead_id WHERE e.type = 'lead' AND e.{PERIOD})
WHERE {CHANNEL} AND {PROVINCE} GROUP BY g"""
STEPS = f"""SELECT if({{by_channel:Bool}}, channel, '') AS g, step, status, uniqExact(lead_id),
  uniqExact(event_id),
  uniqExactIf(account_id, account_id != '' AND account_id IN (SELECT account_id FROM events
                                                             WHERE type = 'deposit' AND direction = 'in'))
FROM (SELECT e.lead_id AS lead_id, e.event_id AS event_id, e.account_id AS account_id, e.step AS step,
             e.status AS status, e.channel AS channel, p.province AS province
      FROM events AS e LEFT JOIN {LEAD_PROVINCE} AS p USING lead_id WHERE e.type = 'step' AND e.{PERIOD})
WHERE {CHANNEL} AND {PROVINCE} GROUP BY g, step, status"""
MONEY = f"""SELECT if({{by_channel:Bool}}, channel, '') AS g, type, direction, product, sum(amount),
  uniqExactIf(account_id, first = 1)
FROM (SELECT e.account_id AS account_id, e.type AS type, e.direction AS direction, e.product AS product,
             e.amount AS amount, e.first AS first, if(e.channel != '', e.channel, o.channel) AS channel,
             p.province AS province
      FROM events AS e FINAL LEFT JOIN {OPENER} AS o USING account_id
      LEFT JOIN {LEAD_PROVINCE} AS p ON p.lead_id = o.lead_id
      WHERE e.type IN ('deposit', 'trade') AND e.{PERIOD})
WHERE {CHANNEL} AND {PROVINCE} GROUP BY g, type, direction, product"""
AUM = f"""SELECT channel, level, segment, province, sum(h_stock + h_fund + h_wealth + h_bond + h_cash)
FROM (SELECT s.h_stock AS h_stock, s.h_fund AS h_fund, s.h_wealth AS h_wealth, s.h_bond AS h_bond,
             s.h_cash AS h_cash, s.level AS level, s.segment AS segment,
             if(s.channel != '', s.channel, o.channel) AS channel,
             if(s.province != '', s.province, p.province) AS province
      FROM (SELECT * FROM events WHERE type = 'asset' AND ts < {{end:DateTime64(3, 'UTC')}}
            ORDER BY account_id, ts DESC, event_id DESC LIMIT 1 BY account_id) AS s
      LEFT JOIN {OPENER} AS o USING account_id
      LEFT JOIN {LEAD_PROVINCE} AS p ON p.lead_id = o.lead_id)
WHERE {CHANNEL} AND {PROVINCE} GROUP BY channel, level, segment, province"""
FUNNEL = f"""SELECT level, count() FROM (
  SELECT lead_id, windowFunnel(259200000)(toUInt64(toUnixTimestamp64Milli(ts)), step = 1, step = 2, step = 3,
         step = 4, step = 5, step = 6, step = 7, step = 8, step = 9, step = 10, step = 11) AS level
  FROM events WHERE type = 'step' AND status = 'done' AND ts >= {{start:DateTime64(3, 'UTC')}} AND {CHANNEL}
    AND lead_id IN (SELECT lead_id FROM events WHERE type = 'step' AND step = 1 AND status = 'done'
                    GROUP BY lead_id HAVING min(ts) >= {{start:DateTime64(3, 'UTC')}}
                                        AND min(ts) < {{end:DateTime64(3, 'UTC')}})
  GROUP BY lead_id) GROUP BY level"""
DROPPED = FUNNEL.replace("SELECT level, count() FROM (", "SELECT lead_id FROM (").replace(
    ") GROUP BY level", ") WHERE level = 8 LIMIT 1000")
SERIES = f"""SELECT toStartOfInterval(ts, toIntervalMinute({{minutes:UInt32}}), 'Asia/Shanghai') AS b,
  uniqExactIf(lead_id, type = {{type:String}}
                       AND ({{step:UInt8}} = 0 OR (step = {{step:UInt8}} AND status = 'done')))
FROM events WHERE type = {{type:String}} AND {PERIOD} GROUP BY b ORDER BY b"""
SERIES_DIALED = f"""SELECT toStartOfInterval(ts, toIntervalMinute({{minutes:UInt32}}), 'Asia/Shanghai') AS b,
  uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM events WHERE type = 'call'))
FROM events WHERE type = 'lead' AND {PERIOD} GROUP BY b ORDER BY b"""
SERIES_MONEY = f"""SELECT toStartOfInterval(ts, toIntervalMinute({{minutes:UInt32}}), 'Asia/Shanghai') AS b,
  sum(if(direction = 'out', -amount, amount))
FROM events FINAL WHERE type = 'deposit' AND {PERIOD} GROUP BY b"""


def _run(client, parts: list[tuple[str, dict]]):
    for sql, params in parts:
        client.query(sql, parameters=params)


def calls(now: datetime, days: int) -> dict[str, object]:
    """case label of bench/queries.py -> a function of the client that asks the naive path."""
    day, week, month = now - timedelta(days=1), now - timedelta(days=7), now - timedelta(days=days)

    def kpis(start, channels=(), provinces=(), by_channel=False):
        p = {"start": start, "end": now, "channels": list(channels), "provinces": list(provinces),
             "by_channel": by_channel}
        return lambda c: _run(c, [(LEADS, p), (STEPS, p), (MONEY, p), (AUM, p)])

    def funnel(start, sql=FUNNEL, channels=()):
        return lambda c: _run(c, [(sql, {"start": start, "end": now, "channels": list(channels)})])

    def aum(channels=()):
        return lambda c: _run(c, [(AUM, {"end": now, "channels": list(channels), "provinces": []})])

    def series(start, type_, minutes, step=0, sql=SERIES):
        # the current period and the day and week before, as three queries
        shifted = [{"start": start - timedelta(days=shift), "end": now - timedelta(days=shift), "type": type_,
                    "step": step, "minutes": minutes} for shift in (0, 1, 7)]
        return lambda c: _run(c, [(sql, params) for params in shifted])

    return {
        "kpis day": kpis(day),
        "kpis day, channel=douyin": kpis(day, ["douyin"]),
        "kpis week": kpis(week),
        "kpis week, channel=douyin": kpis(week, ["douyin"]),
        "kpis week, province=广东": kpis(week, provinces=["广东"]),
        "channels day": kpis(day, by_channel=True),
        "channels week": kpis(week, by_channel=True),
        "funnel day (72 h window)": funnel(day),
        "funnel week (72 h window)": funnel(week),
        "funnel week, channel=douyin": funnel(week, channels=["douyin"]),
        "dropped week, step 8": funnel(week, DROPPED),
        "assets now": aum(),
        "assets now, channel=douyin": aum(["douyin"]),
        "series leads 1m, day": series(day, "lead", 1),
        "series opened 1h, week": series(week, "step", 60, step=11),
        "series net_inflow 1h, week": series(week, "deposit", 60, sql=SERIES_MONEY),
        "series leads 1d, month": series(month, "lead", 1440),
        "series dialed_leads 1d, month": series(month, "lead", 1440, sql=SERIES_DIALED),
    }
