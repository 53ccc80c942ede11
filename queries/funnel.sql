-- Cohort funnel (metrics.md): leads whose first done step-1 event is in [start, end); each lead's
-- level = how many of steps 1..11 it completed in order within window_ms of a step 1 (parts/cohort.sql,
-- shared with dropped.sql). One row per level: how many leads stopped there, and for level 11 the time
-- to convert (first step 11 after the first step 1) as exact quantiles (R-7 interpolation, like numpy).
-- Filters: the channel of the lead's first step-1 event; the province of its first lead event.
-- A duplicate event row changes neither windowFunnel nor min(), so no FINAL is needed.
WITH
    dim_leads AS (SELECT lead_id FROM events WHERE {attribute:Bool} AND type = 'step' AND step = 1
                  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}),
-- include: lead_dim
-- include: cohort
SELECT
    level,
    count() AS leads,
    quantilesExactInclusive(0.5, 0.9, 0.99)(convert_ms) AS convert_quantiles_ms,
    avg(convert_ms) AS convert_mean_ms
FROM journeys
GROUP BY level
ORDER BY level
