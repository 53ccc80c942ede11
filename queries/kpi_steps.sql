-- Funnel flow KPIs (metrics.md) for the period [start, end), one row per (group, step, status):
--   done rows:     reach = distinct leads; for step 11 also the accounts opened and how many of them
--                  have any `in` deposit before `now` (deposit_rate, rollup account_deposits), unfiltered;
--   rejected rows: rejects = distinct rejected step events (a duplicate row counts once).
-- Group = the step event's own channel when by_channel is true, else ''.
-- Filters: the step event's own channel; the province of the lead's first lead event.
-- Distinct counts come from the rollup facts_hourly for the whole hours [h_start, h_end) and from the
-- events for the edges of the period; both are uniqExact states, merged (a set union: a lead in both
-- counts once). With a province filter the hour range is empty and everything is read from the events,
-- because a step's province is its lead's, which a late lead event can change.
WITH
    dim_leads AS (SELECT lead_id FROM events WHERE {attribute:Bool} AND type = 'step'
                  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}),
-- include: lead_dim
    from_events AS
    (
        SELECT if({by_channel:Bool}, e.channel, '') AS group_key, e.step AS step, e.status AS status,
               uniqExactState(e.lead_id) AS leads,
               uniqExactStateIf(e.event_id, e.status = 'rejected') AS events,
               uniqExactStateIf(e.account_id, e.step = 11 AND e.status = 'done' AND e.account_id != '')
                   AS accounts
        FROM events AS e
        LEFT JOIN lead_dim AS l ON l.lead_id = e.lead_id
        WHERE e.type = 'step'
-- include: outside_hours
          AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(e.channel)))
          AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, l.lead_province))
        GROUP BY group_key, step, status
    ),
    from_rollup AS
    (
        SELECT if({by_channel:Bool}, channel, '') AS group_key, step, status, leads, events, accounts
        FROM facts_hourly
        WHERE type = 'step' AND hour >= {h_start:DateTime('UTC')} AND hour < {h_end:DateTime('UTC')}
          AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(channel)))
    ),
    deposited AS
    (
        -- accounts opened in the period (as counted above) with an `in` deposit before now
        SELECT if({by_channel:Bool}, e.channel, '') AS group_key, uniqExact(e.account_id) AS deposited_accounts
        FROM events AS e
        LEFT JOIN lead_dim AS l ON l.lead_id = e.lead_id
        WHERE e.type = 'step' AND e.step = 11 AND e.status = 'done' AND e.account_id != ''
          AND e.ts >= {start:DateTime64(3, 'UTC')} AND e.ts < {end:DateTime64(3, 'UTC')}
          AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(e.channel)))
          AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, l.lead_province))
          AND e.account_id IN (SELECT account_id FROM account_deposits
                               WHERE first_in < {now:DateTime64(3, 'UTC')}
                                 -- only the period's accounts: a primary-key read, not every account
                                 AND account_id IN (SELECT account_id FROM events
                                                    WHERE type = 'step' AND step = 11 AND status = 'done'
                                                      AND ts >= {start:DateTime64(3, 'UTC')}
                                                      AND ts < {end:DateTime64(3, 'UTC')}))
        GROUP BY group_key
    )
SELECT
    s.group_key AS group_key,
    s.step AS step,
    s.status AS status,
    uniqExactMerge(s.leads) AS leads,
    uniqExactMerge(s.events) AS events,
    uniqExactMerge(s.accounts) AS accounts,
    any(d.deposited_accounts) AS deposited_accounts
FROM (SELECT * FROM from_events UNION ALL SELECT * FROM from_rollup) AS s
LEFT JOIN deposited AS d ON d.group_key = s.group_key  -- read only on the (11, done) row
GROUP BY group_key, step, status
