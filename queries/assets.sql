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
-- include: lead_dim
-- include: account_dim
    snapshot_accounts AS (SELECT account_id FROM account_latest WHERE NOT {every_account:Bool}),
-- include: latest_snapshot
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
-- include: filters
GROUP BY channel_key, level, segment, province_key
