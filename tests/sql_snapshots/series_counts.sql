-- Time series of a distinct count (metrics.md) per bucket of event ts floored in Asia/Shanghai, like
-- series.sql, for the metrics the rollup facts_hourly holds: leads, reach (done steps of `step`) and
-- calls, with the same period 1 and 7 days earlier (shift_days = 1, 7; earlier events are moved forward
-- by their shift, so each bucket is reported at the time of the current bucket it compares with).
-- Buckets of 1 hour or 1 day only (whole rollup hours). Whole hours of [h_start, h_end) (in shifted time)
-- come from the rollup, the edges of the period from the events; both are uniqExact states, merged.
-- Filters: the event's own channel (lead and step events always carry one; calls are only asked for
-- without filters: their channel is the lead's). No province filter here (series.sql handles those).
WITH
    from_rollup AS
    (
        SELECT shift_days, hour + toIntervalDay(shift_days) AS shifted_ts,
               toUnixTimestamp(if({bucket_days:Bool}, toStartOfDay(shifted_ts, 'Asia/Shanghai'),
                                  toStartOfHour(shifted_ts, 'Asia/Shanghai'))) AS bucket_s,
               if({metric:String} = 'calls', events, leads) AS state
        FROM facts_hourly
        ARRAY JOIN [0, 1, 7] AS shift_days
        WHERE type = {type:String}
          AND ({metric:String} != 'reach' OR (status = 'done' AND step = {step:UInt8}))
          -- a coarse bound on the key first, then each shifted hour inside the whole hours
          AND hour >= {h_start:DateTime('UTC')} - INTERVAL 7 DAY AND hour < {h_end:DateTime('UTC')}
          AND shifted_ts >= {h_start:DateTime('UTC')} AND shifted_ts < {h_end:DateTime('UTC')}
          AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(channel)))
    ),
    from_events AS
    (
        -- grouped by the bucket here already: one state per bucket, not per event
        SELECT shift_days,
               toUnixTimestamp(if({bucket_days:Bool},
                                  toStartOfDay(e.ts + toIntervalDay(shift_days), 'Asia/Shanghai'),
                                  toStartOfHour(e.ts + toIntervalDay(shift_days), 'Asia/Shanghai'))) AS bucket_s,
               uniqExactState(if({metric:String} = 'calls', e.event_id, e.lead_id)) AS state
        FROM events AS e
        ARRAY JOIN [0, 1, 7] AS shift_days
        WHERE e.type = {type:String}
          AND ({metric:String} != 'reach' OR (e.status = 'done' AND e.step = {step:UInt8}))
          AND e.ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 7 DAY AND e.ts < {end:DateTime64(3, 'UTC')}
          AND e.ts + toIntervalDay(shift_days) >= {start:DateTime64(3, 'UTC')}
          AND e.ts + toIntervalDay(shift_days) < {end:DateTime64(3, 'UTC')}
          AND NOT (e.ts + toIntervalDay(shift_days) >= {h_start:DateTime('UTC')}
                   AND e.ts + toIntervalDay(shift_days) < {h_end:DateTime('UTC')})
          AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(e.channel)))
        GROUP BY shift_days, bucket_s
    )
SELECT shift_days, bucket_s, uniqExactMerge(state) AS distinct_count, toDecimal64(0, 2) AS amount
FROM
(
    SELECT shift_days, bucket_s, state FROM from_rollup
    UNION ALL
    SELECT shift_days, bucket_s, state FROM from_events
)
GROUP BY shift_days, bucket_s
ORDER BY shift_days, bucket_s
