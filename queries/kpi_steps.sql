-- Funnel flow KPIs (metrics.md) for the period [start, end), one row per (group, step, status):
--   done rows:     reach = distinct leads; for step 11 also the accounts opened and how many of them
--                  have any `in` deposit before `now` (deposit_rate), unfiltered;
--   rejected rows: rejects = distinct rejected step events (a duplicate row counts once).
-- Group = the step event's own channel when by_channel is true, else ''.
-- Filters: the step event's own channel; the province of the lead's first lead event.
-- When `attribute` is false (no filter, no per-channel grouping) the dimension CTEs have a
-- constant-false WHERE and read nothing.
WITH
    lead_dim AS
    (
        SELECT lead_id, first_lead.province AS lead_province
        FROM lead_attrs FINAL
        WHERE {attribute:Bool}
    ),
    steps_in_period AS
    (
        SELECT e.event_id AS event_id, e.lead_id AS lead_id, e.account_id AS account_id,
               e.step AS step, e.status AS status,
               e.channel AS channel_key,
               l.lead_province AS province_key
        FROM events AS e
        LEFT JOIN lead_dim AS l ON l.lead_id = e.lead_id
        WHERE e.type = 'step'
          AND e.ts >= {start:DateTime64(3, 'UTC')} AND e.ts < {end:DateTime64(3, 'UTC')}
    )
SELECT
    if({by_channel:Bool}, channel_key, '') AS group_key,
    step,
    status,
    uniqExact(lead_id) AS leads,
    uniqExact(event_id) AS events,
    uniqExactIf(account_id, account_id != '') AS accounts,
    uniqExactIf(account_id, account_id != '' AND account_id IN (SELECT account_id FROM events
                                                             WHERE type = 'deposit' AND direction = 'in'
                                                               AND ts < {now:DateTime64(3, 'UTC')}))
        AS deposited_accounts
FROM steps_in_period
WHERE (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
  AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY group_key, step, status
