-- Funding and trading KPIs (metrics.md) for the period [start, end), one row per
-- (group, type, direction, product):
--   deposit rows: first_deposits (distinct accounts with a `first` in-deposit) and the amount;
--   trade rows:   the amount per product (turnover, wealth preference).
-- FINAL: a sum must not count a duplicate row that ReplacingMergeTree has not merged away yet
-- (measured on chDB: FINAL costs less than `LIMIT 1 BY event_id`).
-- Attribution: the event's own channel, else the channel of the step-11 event that opened the account;
-- the province of that lead's first lead event (deposits and trades carry no province).
-- When `attribute` is false (no filter, no per-channel grouping) the dimension CTEs have a
-- constant-false WHERE and read nothing.
WITH
    lead_dim AS
    (
        SELECT lead_id, argMin(province, (ts, event_id)) AS lead_province
        FROM events
        WHERE type = 'lead' AND {attribute:Bool}
        GROUP BY lead_id
    ),
    account_dim AS
    (
        SELECT account_id,
               argMin(lead_id, (ts, event_id)) AS opener_lead_id,
               argMin(channel, (ts, event_id)) AS opener_channel
        FROM events
        WHERE type = 'step' AND step = 11 AND status = 'done' AND {attribute:Bool}
        GROUP BY account_id
    ),
    money_in_period AS
    (
        SELECT e.account_id AS account_id, e.type AS type, e.direction AS direction, e.first AS first,
               e.product AS product, e.amount AS amount,
               if(e.channel != '', e.channel, a.opener_channel) AS channel_key,
               l.lead_province AS province_key
        FROM events AS e FINAL
        LEFT JOIN account_dim AS a ON a.account_id = e.account_id
        LEFT JOIN lead_dim AS l ON l.lead_id = a.opener_lead_id
        WHERE e.type IN ('deposit', 'trade')
          AND e.ts >= {start:DateTime64(3, 'UTC')} AND e.ts < {end:DateTime64(3, 'UTC')}
    )
SELECT
    if({by_channel:Bool}, channel_key, '') AS group_key,
    type,
    direction,
    product,
    uniqExactIf(account_id, first = 1) AS first_accounts,
    sum(amount) AS amount
FROM money_in_period
WHERE (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
  AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY group_key, type, direction, product
