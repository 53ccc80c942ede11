-- Time to convert of the cohort funnel (metrics.md) as counts per whole minute: for the cohort leads that
-- reached level 11 (the same cohort, filters and windowFunnel levels as funnel.sql, parts/cohort.sql),
-- how many took [m, m+1) minutes from their first step 1 to their first step 11 after it. Python bins
-- these into the histogram's buckets (ecc/olap/time_to_convert.py), whose bounds are whole minutes, so
-- the binning is exact. At most window_hours x 60 rows (4,320 for the default 72 h).
WITH
    dim_leads AS (SELECT lead_id FROM events WHERE {attribute:Bool} AND type = 'step' AND step = 1
                  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}),
    -- per lead of `dim_leads` (a CTE of the including query: the leads the period can ask about, so the
    -- join's table follows the period, not every lead ever), its first `lead` event (rollup
    -- lead_attrs); reads nothing unless `attribute` is true. min() over the few rows of those leads
    -- rather than FINAL, which would merge every part of the whole table; tupleElement rather than a
    -- `first_lead.province` subcolumn, which chDB 26.9 reads under FINAL without merging.
    lead_dim AS
    (
        SELECT lead_id,
               tupleElement(first, 'channel') AS lead_channel,
               tupleElement(first, 'province') AS lead_province,
               tupleElement(first, 'phone_masked') AS phone_masked
        FROM
        (
            SELECT lead_id, min(first_lead) AS first
            FROM lead_attrs
            WHERE {attribute:Bool} AND lead_id IN (SELECT lead_id FROM dim_leads)
            GROUP BY lead_id
        )
    ),
    -- the cohort (metrics.md): leads whose first done step-1 event is in [start, end), from the rollup
    -- lead_progress (each lead's first step 1 and the set of its done steps, kept by the engine): the
    -- period's step-1 leads are looked up there (primary key), and a lead counts when its first step 1
    -- ever is in the period, so neither the history before `start` nor the steps after it are scanned.
    -- min() / groupUniqArrayMerge() over the lead's rows rather than FINAL (see lead_dim).
    progress AS
    (
        SELECT lead_id, tupleElement(first, 'ts') AS start_ts, tupleElement(first, 'channel') AS channel_key,
               done_steps
        FROM
        (
            SELECT lead_id, min(first_step1) AS first, groupUniqArrayMerge(done_steps) AS done_steps
            FROM lead_progress
            WHERE lead_id IN (SELECT lead_id FROM events
                              WHERE type = 'step' AND step = 1 AND status = 'done'
                                AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')})
            GROUP BY lead_id
        )
        WHERE start_ts >= {start:DateTime64(3, 'UTC')} AND start_ts < {end:DateTime64(3, 'UTC')}
    ),
    cohort AS
    (
        SELECT p.lead_id AS lead_id, toUInt64(toUnixTimestamp64Milli(p.start_ts)) AS start_ms,
               p.channel_key AS channel_key, l.lead_province AS province_key, p.done_steps AS done_steps
        FROM progress AS p
        LEFT JOIN lead_dim AS l ON l.lead_id = p.lead_id
        WHERE
    (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
    AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
    ),
    -- each cohort lead's windowFunnel level over its done steps from its first step 1 on (no upper time
    -- bound: windowFunnel applies the window itself, and a later step 1 may restart the chain, as in
    -- ClickHouse), one row per (ts, step) of the set. windowFunnel takes a UInt64 of milliseconds.
    journeys AS
    (
        SELECT lead_id,
               windowFunnel({window_ms:UInt64})(step_ms, step = 1, step = 2, step = 3, step = 4, step = 5,
                   step = 6, step = 7, step = 8, step = 9, step = 10, step = 11) AS level,
               toInt64(minIf(step_ms, step = 11)) - toInt64(any(start_ms)) AS convert_ms,
               toInt64(max(step_ms)) AS last_step_ms,
               any(channel_key) AS channel,
               any(province_key) AS province
        FROM
        (
            SELECT lead_id, start_ms, channel_key, province_key, tupleElement(done, 1) AS step_ms,
                   tupleElement(done, 2) AS step
            FROM cohort
            ARRAY JOIN done_steps AS done
        )
        WHERE step_ms >= start_ms
        GROUP BY lead_id
    )
SELECT
    intDiv(toUInt64(greatest(convert_ms, 0)), 60000) AS minute,
    count() AS leads
FROM journeys
WHERE level = 11
GROUP BY minute
ORDER BY minute
