-- AUM (metrics.md) at an instant: each account's latest `asset` snapshot with ts < at (latest by ts,
-- then event_id; parts/latest_snapshot.sql: from the rollup account_latest, sorted from the events only
-- for accounts with a newer snapshot), summed per (channel, level, segment, province). Python adds these
-- groups up into the breakdowns.
-- Attribution: the snapshot's own channel, else the channel of the step-11 event that opened the
-- account; its own province, else the province of that lead's first lead event. Filters apply to the
-- latest snapshot (an older snapshot never stands in for an account filtered out now).
-- The openers (account_dim) are looked up only for the accounts whose snapshot lacks a channel or a
-- province, and the openers' first lead events (lead_dim) only for those that lack a province: every
-- account looked up both (4.2 s over 100M events where this takes 2.0 s). An account with a snapshot at
-- or after `at` is looked up either way: its snapshot before `at` comes from the events.
WITH
    dim_accounts AS (SELECT account_id FROM account_latest
                     WHERE {attribute:Bool}
                       AND (tupleElement(latest, 'channel') = '' OR tupleElement(latest, 'province') = ''
                            OR tupleElement(latest, 'ts') >= {at:DateTime64(3, 'UTC')})),
    dim_leads AS (SELECT tupleElement(opener, 'lead_id') AS lead_id FROM account_attrs
                  WHERE {attribute:Bool}
                    AND account_id IN (SELECT account_id FROM account_latest
                                       WHERE tupleElement(latest, 'province') = ''
                                          OR tupleElement(latest, 'ts') >= {at:DateTime64(3, 'UTC')})),
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
    snapshot_accounts AS (SELECT account_id FROM account_latest WHERE NOT {every_account:Bool}),
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
