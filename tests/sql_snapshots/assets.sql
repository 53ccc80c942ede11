-- AUM (metrics.md) at an instant: each account's latest `asset` snapshot with ts < at (latest by ts,
-- then event_id; parts/latest_snapshot.sql: from the rollup account_latest, sorted from the events only
-- for accounts with a newer snapshot), summed per (channel, level, segment, province). Python adds these
-- groups up into the breakdowns.
-- Attribution: the snapshot's own channel, else the channel of the step-11 event that opened the
-- account; its own province, else the province of that lead's first lead event. Filters apply to the
-- latest snapshot (an older snapshot never stands in for an account filtered out now).
WITH
    dim_accounts AS (SELECT account_id FROM account_latest),
    dim_leads AS (SELECT tupleElement(opener, 'lead_id') AS lead_id FROM account_attrs
                  WHERE account_id IN (SELECT account_id FROM dim_accounts)),
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
    -- true. min() over those accounts' rows, as in lead_dim.
    account_dim AS
    (
        SELECT account_id, tupleElement(first, 'lead_id') AS opener_lead_id,
               tupleElement(first, 'channel') AS opener_channel
        FROM
        (
            SELECT account_id, min(opener) AS first
            FROM account_attrs
            WHERE {attribute:Bool} AND account_id IN (SELECT account_id FROM dim_accounts)
            GROUP BY account_id
        )
    ),
    snapshot_accounts AS
    (
        SELECT account_id FROM account_latest
    ),
    -- (tupleElement, not `latest.ts`: chDB 26.9 reads a subcolumn of a SimpleAggregateFunction column
    -- under FINAL from one part without merging, tests/test_analytics.py shows it)
    -- each account of `snapshot_accounts` with its newest asset snapshot before `at` (by ts, then
    -- event_id): rollup account_latest when the account's newest snapshot ever is before `at`, else
    -- (only the accounts with a snapshot since) sorted from the events
    latest AS
    (
        SELECT account_id,
               tupleElement(latest, 'h_stock') AS h_stock, tupleElement(latest, 'h_fund') AS h_fund,
               tupleElement(latest, 'h_wealth') AS h_wealth, tupleElement(latest, 'h_bond') AS h_bond,
               tupleElement(latest, 'h_cash') AS h_cash, tupleElement(latest, 'level') AS level,
               tupleElement(latest, 'segment') AS segment, tupleElement(latest, 'province') AS province,
               tupleElement(latest, 'channel') AS channel
        FROM account_latest FINAL
        WHERE tupleElement(latest, 'ts') < {at:DateTime64(3, 'UTC')}
          AND account_id IN (SELECT account_id FROM snapshot_accounts)
        UNION ALL
        SELECT account_id, h_stock, h_fund, h_wealth, h_bond, h_cash, toString(level), toString(segment),
               toString(province), toString(channel)
        FROM events
        WHERE type = 'asset' AND ts < {at:DateTime64(3, 'UTC')}
          AND account_id IN (SELECT account_id FROM account_latest FINAL
                             WHERE tupleElement(latest, 'ts') >= {at:DateTime64(3, 'UTC')}
                               AND account_id IN (SELECT account_id FROM snapshot_accounts))
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
WHERE
    (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
    AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY channel_key, level, segment, province_key
