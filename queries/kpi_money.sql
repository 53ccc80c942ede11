-- Funding and trading KPIs (metrics.md) for the period [start, end), one row per
-- (group, type, direction, product, segment):
--   deposit rows: first_deposits (distinct accounts with a `first` in-deposit) and the amount;
--   trade rows:   the amount per product and segment (turnover, wealth preference overall and per
--                 segment); the segment of a trade is the `segment` of its account's latest asset
--                 snapshot with ts < end (parts/latest_snapshot.sql, `at` = end), '' without one.
--                 Deposit rows have segment ''.
-- Raw events, not a rollup: a sum must not count a duplicate event row twice, and only `FINAL` over the
-- events themselves guarantees that (a Summing rollup would add a row inserted twice twice).
-- Attribution: the event's own channel, else the channel of the step-11 event that opened the account
-- (rollup account_attrs); the province of that lead's first lead event (rollup lead_attrs; deposits
-- and trades carry no province).
WITH
    dim_accounts AS (SELECT account_id FROM events WHERE {attribute:Bool} AND type IN ('deposit', 'trade')
                  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}),
    dim_leads AS (SELECT tupleElement(opener, 'lead_id') AS lead_id FROM account_attrs
                  WHERE {attribute:Bool} AND account_id IN (SELECT account_id FROM dim_accounts)),
-- include: lead_dim
-- include: account_dim
    snapshot_accounts AS
    (
        SELECT account_id FROM events
        WHERE type = 'trade' AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
    ),
-- include: latest_snapshot
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
        LEFT JOIN latest AS g ON g.account_id = e.account_id
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
WHERE
-- include: filters
GROUP BY group_key, type, direction, product, segment
-- include: final_per_partition
