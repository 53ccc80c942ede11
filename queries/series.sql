-- Time series (metrics.md) of one metric per bucket of event ts floored in Asia/Shanghai, for the
-- period [start, end) (shift_days = 0) and the same period 1 and 7 days earlier (shift_days = 1, 7).
-- Earlier events are moved forward by their shift before bucketing, so each bucket is reported at the
-- time of the current bucket it compares with (Shanghai has no daylight saving: a day is 24 hours).
-- Buckets: toStartOfDay when bucket_days, else toStartOfInterval of bucket_minutes (1, 5, 60).
--
-- `metric` picks the rows that count (see `counts` below) and what is counted: distinct_count is the
-- number of distinct `distinct_key` (a lead, an account or an event), amount the sum of signed amounts
-- (an `out` deposit is negative: net inflow). Two aggregates instead of one column per metric keep the
-- per-bucket state small. `types` limits the rows read to the event types the metric needs.
-- FINAL when `final` (the sums): a sum must not count a duplicate row that ReplacingMergeTree has not
-- merged away yet. A distinct count is immune to one, and reads a day of minutes 25% faster without
-- (126 -> 93 ms over 100M stored events, docs/benchmarks.md); the setting is scoped to the subquery that
-- reads the events, so the rollups joined beside them are read as before.
-- Attribution and filters as in kpi_*.sql: own channel, else the lead's channel (lead-keyed events) or
-- the account opener's (step 11); own province, else that lead's first lead event's province.
-- When `attribute` is false (no filter) the dimension CTEs have a constant-false WHERE and read nothing.
-- dialed_leads: leads with a call at any time (rollup lead_calls: one row per called lead), looked up for
-- the three periods' leads only, and only for that metric (`called` reads nothing for the others).
WITH
    -- the events of the three periods (a coarse bound: from 7 days before the start to the end)
    dim_accounts AS (SELECT account_id FROM events WHERE {attribute:Bool} AND type IN {types:Array(String)}
                     AND (ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 7 DAY AND ts < {end:DateTime64(3, 'UTC')})),
    dim_leads AS
    (
        SELECT lead_id FROM events WHERE {attribute:Bool} AND type IN {types:Array(String)}
          AND (ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 7 DAY AND ts < {end:DateTime64(3, 'UTC')})
        UNION ALL
        SELECT tupleElement(opener, 'lead_id') AS lead_id FROM account_attrs
        WHERE {attribute:Bool} AND account_id IN (SELECT account_id FROM dim_accounts)
    ),
-- include: lead_dim
-- include: account_dim
    called AS
    (
        SELECT lead_id FROM lead_calls
        WHERE {metric:String} = 'dialed_leads'
          AND lead_id IN (SELECT lead_id FROM events
                          WHERE {metric:String} = 'dialed_leads' AND type = 'lead'
                            AND ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 7 DAY
                            AND ts < {end:DateTime64(3, 'UTC')})
    ),
    attributed AS
    (
        SELECT e.event_id AS event_id, e.type AS type, e.ts AS ts, e.lead_id AS lead_id,
               e.account_id AS account_id, e.step AS step, e.status AS status,
               e.direction AS direction, e.first AS first, e.amount AS amount,
               if(e.channel != '', e.channel,
                  if(e.lead_id != '', l.lead_channel, a.opener_channel)) AS channel_key,
               if(e.province != '', e.province, l.lead_province) AS province_key
        FROM (SELECT * FROM events SETTINGS final = {final:Bool}) AS e
        LEFT JOIN account_dim AS a ON a.account_id = e.account_id
        LEFT JOIN lead_dim AS l ON l.lead_id = if(e.lead_id != '', e.lead_id, a.opener_lead_id)
        WHERE e.type IN {types:Array(String)}
          AND ((e.ts >= {start:DateTime64(3, 'UTC')} AND e.ts < {end:DateTime64(3, 'UTC')})
               OR (e.ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 1 DAY
                   AND e.ts < {end:DateTime64(3, 'UTC')} - INTERVAL 1 DAY)
               OR (e.ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 7 DAY
                   AND e.ts < {end:DateTime64(3, 'UTC')} - INTERVAL 7 DAY))
    ),
    counted AS
    (
        SELECT shift_days,
               ts + toIntervalDay(shift_days) AS shifted_ts,
               multiIf({metric:String} IN ('leads', 'dialed_leads', 'reach'), lead_id,
                       {metric:String} = 'first_deposits', account_id,
                       event_id) AS distinct_key,
               if(direction = 'out', -amount, amount) AS signed_amount,
               multiIf({metric:String} = 'leads', type = 'lead',
                       {metric:String} = 'dialed_leads',
                           type = 'lead' AND lead_id IN (SELECT lead_id FROM called),
                       {metric:String} = 'reach', type = 'step' AND status = 'done' AND step = {step:UInt8},
                       {metric:String} = 'first_deposits',
                           type = 'deposit' AND direction = 'in' AND first = 1,
                       {metric:String} = 'deposit_amount', type = 'deposit' AND direction = 'in',
                       {metric:String} = 'net_inflow', type = 'deposit',
                       {metric:String} = 'trade_amount', type = 'trade',
                       {metric:String} = 'calls', type = 'call',
                       false) AS counts
        FROM attributed
        ARRAY JOIN [0, 1, 7] AS shift_days
        WHERE
-- include: filters
    )
SELECT
    shift_days,
    toUnixTimestamp(if({bucket_days:Bool},
                       toStartOfDay(shifted_ts, 'Asia/Shanghai'),
                       toStartOfInterval(shifted_ts, toIntervalMinute({bucket_minutes:UInt32}),
                                         'Asia/Shanghai'))) AS bucket_s,
    uniqExact(distinct_key) AS distinct_count,
    sum(signed_amount) AS amount
FROM counted
WHERE counts
  AND shifted_ts >= {start:DateTime64(3, 'UTC')} AND shifted_ts < {end:DateTime64(3, 'UTC')}
GROUP BY shift_days, bucket_s
ORDER BY shift_days, bucket_s
-- include: final_per_partition
