-- AUM (metrics.md) at an instant: each account's latest `asset` snapshot with ts < at (latest by ts,
-- then event_id; a duplicate row of that snapshot is the same values, kept once), summed per
-- (channel, level, segment, province). Python adds these groups up into the breakdowns.
-- Attribution: the snapshot's own channel, else the channel of the step-11 event that opened the
-- account; its own province, else the province of that lead's first lead event. Filters apply to the
-- latest snapshot (an older snapshot never stands in for an account filtered out now).
-- When `attribute` is false (kpis without filters: only the total is used) the dimension CTEs have a
-- constant-false WHERE and read nothing.
WITH
    lead_dim AS
    (
        SELECT lead_id, first_lead.province AS lead_province
        FROM lead_attrs FINAL
        WHERE {attribute:Bool}
    ),
    account_dim AS
    (
        SELECT account_id, opener.lead_id AS opener_lead_id, opener.channel AS opener_channel
        FROM account_attrs FINAL
        WHERE {attribute:Bool}
    ),
    latest AS
    (
        -- one row per account: its newest snapshot (sorting and LIMIT BY measured ~3x faster on chDB
        -- than argMax over a tuple of nine columns)
        SELECT account_id, h_stock, h_fund, h_wealth, h_bond, h_cash, level, segment, province, channel
        FROM events
        WHERE type = 'asset' AND ts < {at:DateTime64(3, 'UTC')}
        ORDER BY account_id, ts DESC, event_id DESC
        LIMIT 1 BY account_id
    ),
    attributed AS
    (
        SELECT s.h_stock AS stock, s.h_fund AS fund, s.h_wealth AS wealth, s.h_bond AS bond,
               s.h_cash AS cash, s.level AS level, s.segment AS segment,
               if(s.channel != '', s.channel, a.opener_channel) AS channel_key,
               if(s.province != '', s.province, l.lead_province) AS province_key
        FROM latest AS s
        LEFT JOIN account_dim AS a ON a.account_id = s.account_id
        LEFT JOIN lead_dim AS l ON l.lead_id = a.opener_lead_id
    )
SELECT
    channel_key,
    level,
    segment,
    province_key,
    count() AS accounts,
    sum(stock) AS stock,
    sum(fund) AS fund,
    sum(wealth) AS wealth,
    sum(bond) AS bond,
    sum(cash) AS cash
FROM attributed
WHERE (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
  AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY channel_key, level, segment, province_key
