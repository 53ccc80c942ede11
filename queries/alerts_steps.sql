-- Step counts of one window [start, end) for the alert rules (docs/alerts.md "Detection"), per the step
-- event's own channel and step k:
--   entered:   distinct leads with a done step-k event in the window;
--   converted: of those, the ones with a done step-(k+1) event before `end`: how far the window's leads
--              got by its end. The window and each baseline window are censored the same way, so their
--              shares compare although the newest leads have had little time to go on;
--   rejects:   distinct rejected step-k events in the window (reject_rate[k] = rejects / (entered + rejects)).
-- A step k+1 comes after step k, so "before end" is "in the window": one read of the window's step
-- events, grouped per lead (the set of steps it completed there), no join.
SELECT channel, step,
       countIf(has(done, step)) AS entered,
       countIf(has(done, step) AND has(done, step + 1)) AS converted,
       sum(rejected_here) AS rejects
FROM
(
    SELECT lead_id, any(toString(channel)) AS channel,
           groupUniqArrayIf(step, status = 'done') AS done,
           groupArrayIf((step, event_id), status = 'rejected') AS rejected
    FROM events
    WHERE type = 'step' AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
    GROUP BY lead_id
)
ARRAY JOIN arrayDistinct(arrayConcat(done, arrayMap(r -> r.1, rejected))) AS step
-- the lead's distinct rejected step-k events (a redelivered row has the same event_id)
ARRAY JOIN [length(arrayDistinct(arrayFilter(r -> r.1 = step, rejected)))] AS rejected_here
GROUP BY channel, step
