-- Step counts for the alert rules (docs/alerts.md "Detection"), of the step events in [start, end), per the
-- step event's own channel, step k and age: whole minutes between the event and `end` (0 = the newest
-- minute), so that one answer gives every window [end - w minutes, end) by summing ages 0..w-1:
--   entered:   distinct leads whose (first) done step-k event in the range has that age;
--   converted: of those, the ones with a done step-(k+1) event before `end`: how far the window's leads
--              got by its end. The window and each baseline window are censored the same way, so their
--              shares compare although the newest leads have had little time to go on;
--   rejects:   distinct rejected step-k events of that age (reject_rate[k] = rejects / (entered + rejects)).
-- A step k+1 comes after step k, so "before end" is "in the range": one read of the range's step events,
-- grouped per lead (the steps it completed there and when), no join. Age uses `end - ts - 1 ms` so that
-- an event at exactly `end - w minutes` belongs to the w-minute window, as [start, end) says.
SELECT channel, step, age, sum(entered) AS entered, sum(converted) AS converted, sum(rejects) AS rejects
FROM
(
    SELECT channel, step,
           intDiv(toUnixTimestamp64Milli({end:DateTime64(3, 'UTC')}) - toUnixTimestamp64Milli(first_done) - 1,
                  60000) AS age,
           count() AS entered, countIf(has(steps, step + 1)) AS converted, 0 AS rejects
    FROM
    (
        SELECT lead_id, any(toString(channel)) AS channel,
               groupArrayIf((step, ts), status = 'done') AS done,
               arrayDistinct(arrayMap(d -> d.1, done)) AS steps
        FROM events
        WHERE type = 'step' AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
        GROUP BY lead_id
    )
    ARRAY JOIN steps AS step
    -- a redelivered row repeats a done step: the lead counts once, at its first
    ARRAY JOIN [arrayMin(arrayMap(d -> d.2, arrayFilter(d -> d.1 = step, done)))] AS first_done
    GROUP BY channel, step, age

    UNION ALL

    SELECT channel, step,
           intDiv(toUnixTimestamp64Milli({end:DateTime64(3, 'UTC')}) - toUnixTimestamp64Milli(first_at) - 1,
                  60000) AS age,
           0 AS entered, 0 AS converted, count() AS rejects
    FROM
    (
        -- one row per rejected event (a redelivered row has the same event_id)
        SELECT event_id, any(toString(channel)) AS channel, any(step) AS step, min(ts) AS first_at
        FROM events
        WHERE type = 'step' AND status = 'rejected'
          AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
        GROUP BY event_id
    )
    GROUP BY channel, step, age
)
GROUP BY channel, step, age
