INSERT INTO lead_attrs
SELECT lead_id, min((ts, event_id, toString(channel), toString(province), phone_masked)) AS first_lead
FROM events
WHERE type = 'lead'
GROUP BY lead_id
;
INSERT INTO account_attrs
SELECT account_id, min((ts, event_id, lead_id, toString(channel))) AS opener
FROM events
WHERE type = 'step' AND step = 11 AND status = 'done' AND account_id != ''
GROUP BY account_id
;
INSERT INTO facts_hourly
SELECT toStartOfHour(toDateTime(ts, 'UTC')) AS hour, type, channel, step, status, outcome,
       uniqExactStateIf(lead_id, lead_id != '') AS leads,
       uniqExactStateIf(event_id, type = 'call' OR status = 'rejected') AS events,
       uniqExactStateIf(account_id, type = 'step' AND step = 11 AND status = 'done' AND account_id != '')
           AS accounts
FROM events
WHERE type IN ('lead', 'step', 'call')
GROUP BY hour, type, channel, step, status, outcome
;
INSERT INTO lead_calls
SELECT lead_id, min(ts) AS first_call,
       min(if(outcome = 'connected', ts, toDateTime64('2299-12-31 00:00:00', 3, 'UTC'))) AS first_connected
FROM events
WHERE type = 'call' AND lead_id != ''
GROUP BY lead_id
;
INSERT INTO account_deposits
SELECT account_id, min(ts) AS first_in
FROM events
WHERE type = 'deposit' AND direction = 'in' AND account_id != ''
GROUP BY account_id
;
INSERT INTO account_latest
SELECT account_id,
       max((ts, event_id, h_stock, h_fund, h_wealth, h_bond, h_cash, toString(level), toString(segment),
            toString(province), toString(channel))) AS latest
FROM events
WHERE type = 'asset' AND account_id != ''
GROUP BY account_id
;
INSERT INTO lead_progress
SELECT lead_id,
       min(if(step = 1, (ts, event_id, toString(channel)),
              (toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), '', ''))) AS first_step1,
       groupUniqArrayState((toUInt64(toUnixTimestamp64Milli(ts)), step)) AS done_steps
FROM events
WHERE type = 'step' AND status = 'done' AND lead_id != ''
GROUP BY lead_id
;
ALTER TABLE lead_attrs MODIFY COMMENT 'backfilled'
;
ALTER TABLE account_attrs MODIFY COMMENT 'backfilled'
;
ALTER TABLE facts_hourly MODIFY COMMENT 'backfilled'
;
ALTER TABLE lead_calls MODIFY COMMENT 'backfilled'
;
ALTER TABLE account_deposits MODIFY COMMENT 'backfilled'
;
ALTER TABLE account_latest MODIFY COMMENT 'backfilled'
;
ALTER TABLE lead_progress MODIFY COMMENT 'backfilled'
