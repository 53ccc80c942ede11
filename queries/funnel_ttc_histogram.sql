-- Time to convert of the cohort funnel (metrics.md) as counts per whole minute: for the cohort leads that
-- reached level 11 (the same cohort, filters and windowFunnel levels as funnel.sql, parts/cohort.sql),
-- how many took [m, m+1) minutes from their first step 1 to their first step 11 after it. Python bins
-- these into the histogram's buckets (ecc/olap/time_to_convert.py), whose bounds are whole minutes, so
-- the binning is exact. At most window_hours x 60 rows (4,320 for the default 72 h).
WITH
    dim_leads AS (SELECT lead_id FROM events WHERE {attribute:Bool} AND type = 'step' AND step = 1
                  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}),
-- include: lead_dim
-- include: cohort
SELECT
    intDiv(toUInt64(greatest(convert_ms, 0)), 60000) AS minute,
    count() AS leads
FROM journeys
WHERE level = 11
GROUP BY minute
ORDER BY minute
