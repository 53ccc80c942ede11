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
    -- per lead of `dim_leads` (a CTE of the including query: the leads the period can ask about, so the
    -- join's table follows the period, not every lead ever), its first `lead` event (rollup
    -- lead_attrs); reads nothing unless `attribute` is true. min() over the few rows of those leads
    -- rather than FINAL, which would merge every part of the whole table; tupleElement rather than a
    -- `first_lead.province` subcolumn, which chDB 26.9 reads under FINAL without merging.
    lead_dim AS
    (
        SELECT lead_id,
               tupleElement(first, 'channel') AS lead_channel,
               tupleElement(first, 'province') AS lead_province,
               tupleElement(first, 'phone_masked') AS phone_masked
        FROM
        (
            SELECT lead_id, min(first_lead) AS first
            FROM lead_attrs
            WHERE {attribute:Bool} AND lead_id IN (SELECT lead_id FROM dim_leads)
            GROUP BY lead_id
        )
    ),
    -- per account of `dim_accounts` (a CTE of the including query, like `dim_leads`), the lead that
    -- opened it and that step's channel (rollup account_attrs); reads nothing unless `attribute` is
    -- true. min() over those accounts' rows, as in lead_dim; when the query concerns `every_account`
    -- (AUM), FINAL over the whole table instead: no set of 2.2M ids to build and probe (AUM by channel
    -- over 100M events 1,676 -> 1,057 ms).
    account_dim AS
    (
        SELECT account_id, tupleElement(first, 'lead_id') AS opener_lead_id,
               tupleElement(first, 'channel') AS opener_channel
        FROM
        (
            SELECT account_id, min(opener) AS first
            FROM account_attrs
            WHERE {attribute:Bool} AND NOT {every_account:Bool}
              AND account_id IN (SELECT account_id FROM dim_accounts)
            GROUP BY account_id
            UNION ALL
            SELECT account_id, opener AS first
            FROM account_attrs FINAL
            WHERE {attribute:Bool} AND {every_account:Bool}
        )
    ),
    snapshot_accounts AS
    (
        SELECT account_id FROM events
        WHERE type = 'trade' AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
    ),
    -- each account of `snapshot_accounts` (every account when `every_account`: then no set of them is
    -- built) with its newest asset snapshot before `at` (by ts, then event_id): rollup account_latest
    -- (max() over those accounts' rows; FINAL, the engine's merge, when it is every account) when the
    -- account's newest snapshot ever is before `at`, else (only the accounts with a snapshot since)
    -- sorted from the events. tupleElement, not `l.ts`-style subcolumns (see lead_dim).
    latest AS
    (
        SELECT account_id,
               tupleElement(l, 'h_stock') AS h_stock, tupleElement(l, 'h_fund') AS h_fund,
               tupleElement(l, 'h_wealth') AS h_wealth, tupleElement(l, 'h_bond') AS h_bond,
               tupleElement(l, 'h_cash') AS h_cash, tupleElement(l, 'level') AS level,
               tupleElement(l, 'segment') AS segment, tupleElement(l, 'province') AS province,
               tupleElement(l, 'channel') AS channel
        FROM
        (
            -- every account: FINAL, the engine's own merge of each account's rows (393 ms for 2.2M
            -- accounts where max() by account took 666 ms); some accounts: max() over their rows only
            SELECT account_id, latest AS l FROM account_latest FINAL WHERE {every_account:Bool}
            UNION ALL
            SELECT account_id, max(latest) AS l
            FROM account_latest
            WHERE NOT {every_account:Bool} AND account_id IN (SELECT account_id FROM snapshot_accounts)
            GROUP BY account_id
        )
        WHERE tupleElement(l, 'ts') < {at:DateTime64(3, 'UTC')}
        UNION ALL
        SELECT account_id, h_stock, h_fund, h_wealth, h_bond, h_cash, toString(level), toString(segment),
               toString(province), toString(channel)
        FROM events
        WHERE type = 'asset' AND ts < {at:DateTime64(3, 'UTC')}
          -- some row at or after `at` means the newest ever is (max), no merge needed to know it
          AND account_id IN (SELECT account_id FROM account_latest
                             WHERE tupleElement(latest, 'ts') >= {at:DateTime64(3, 'UTC')}
                               AND ({every_account:Bool}
                                    OR account_id IN (SELECT account_id FROM snapshot_accounts)))
        ORDER BY account_id, ts DESC, event_id DESC
        LIMIT 1 BY account_id
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
    (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
    AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY group_key, type, direction, product, segment
-- FINAL over `events` merges a row with its duplicates inside its own partition only: a duplicate row is
-- the same event, with the same ts, so it is always in the same month (toYYYYMM(ts)) as the original.
-- Merging across partitions, ClickHouse's default, cost 1.25 s of a day's kpi_money and 2.1 s of a day's
-- per-minute series over 100M stored events; 65 and 96 ms with this (docs/benchmarks.md), same answers.
SETTINGS do_not_merge_across_partitions_select_final = 1
