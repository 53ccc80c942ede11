-- Funding and trading KPIs (metrics.md) for the period [start, end), one row per
-- (group, type, direction, product, segment):
--   deposit rows: first_deposits (distinct accounts with a `first` in-deposit) and the amount;
--   trade rows:   the amount per product and segment (turnover, wealth preference overall and per
--                 segment); the segment of a trade is the `segment` of its account's latest asset
--                 snapshot with ts < end (latest by ts, then event_id: the snapshot AUM uses), ''
--                 without one. Deposit rows have segment ''.
-- FINAL: a sum must not count a duplicate row that ReplacingMergeTree has not merged away yet
-- (measured on chDB: FINAL costs less than `LIMIT 1 BY event_id`).
-- Attribution: the event's own channel, else the channel of the step-11 event that opened the account
-- (rollup account_attrs); the province of that lead's first lead event (rollup lead_attrs; deposits
-- and trades carry no province).
-- When `attribute` is false (no filter, no per-channel grouping) the dimension CTEs have a
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
    trade_segment AS
    (
        -- only the accounts that traded in the period; a duplicate snapshot row changes no argMax
        SELECT account_id, argMax(segment, (ts, event_id)) AS segment
        FROM events
        WHERE type = 'asset' AND ts < {end:DateTime64(3, 'UTC')}
          AND account_id IN (SELECT account_id FROM events
                             WHERE type = 'trade'
                               AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')})
        GROUP BY account_id
    ),
    money_in_period AS
    (
        SELECT e.account_id AS account_id, e.type AS type, e.direction AS direction, e.first AS first,
               e.product AS product, e.amount AS amount,
               if(e.type = 'trade', g.segment, '') AS segment,
               if(e.channel != '', e.channel, a.opener_channel) AS channel_key,
               l.lead_province AS province_key
        FROM events AS e FINAL
        LEFT JOIN account_dim AS a ON a.account_id = e.account_id
        LEFT JOIN lead_dim AS l ON l.lead_id = a.opener_lead_id
        LEFT JOIN trade_segment AS g ON g.account_id = e.account_id
        WHERE e.type IN ('deposit', 'trade')
          AND e.ts >= {start:DateTime64(3, 'UTC')} AND e.ts < {end:DateTime64(3, 'UTC')}
    )
SELECT
    if({by_channel:Bool}, channel_key, '') AS group_key,
    type,
    direction,
    product,
    segment,
    uniqExactIf(account_id, first = 1) AS first_accounts,
    sum(amount) AS amount
FROM money_in_period
WHERE (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
  AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY group_key, type, direction, product, segment
