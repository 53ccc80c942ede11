-- Dropped-off leads at one step (metrics.md): cohort leads (first done step-1 event in [start, end))
-- whose windowFunnel level (window_ms, as in funnel.sql) is exactly `step` (1 <= step < 11): the
-- recall list for outbound calls, newest last step first. Same cohort and level as funnel.sql.
-- Shown per lead: the channel of its first step-1 event (the one the channel filter applies to), the
-- masked phone and province of its first lead event, and the time of its last done step (when the
-- lead was last seen in the flow).
WITH
    lead_dim AS
    (
        SELECT lead_id, first_lead.province AS lead_province, first_lead.phone_masked AS phone_masked
        FROM lead_attrs FINAL
    ),
    first_step1 AS
    (
        SELECT lead_id, min(ts) AS start_ts, argMin(channel, (ts, event_id)) AS channel_key
        FROM events
        WHERE type = 'step' AND step = 1 AND status = 'done'
        GROUP BY lead_id
        HAVING start_ts >= {start:DateTime64(3, 'UTC')} AND start_ts < {end:DateTime64(3, 'UTC')}
    ),
    cohort AS
    (
        SELECT f.lead_id AS lead_id, toUnixTimestamp64Milli(f.start_ts) AS start_ms,
               f.channel_key AS channel, l.lead_province AS province, l.phone_masked AS phone_masked
        FROM first_step1 AS f
        LEFT JOIN lead_dim AS l ON l.lead_id = f.lead_id
        WHERE (empty({channels:Array(String)}) OR has({channels:Array(String)}, f.channel_key))
          AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, l.lead_province))
    ),
    journeys AS
    (
        SELECT c.lead_id AS lead_id,
               windowFunnel({window_ms:UInt64})(
                   toUInt64(toUnixTimestamp64Milli(e.ts)),
                   e.step = 1, e.step = 2, e.step = 3, e.step = 4, e.step = 5, e.step = 6,
                   e.step = 7, e.step = 8, e.step = 9, e.step = 10, e.step = 11) AS level,
               max(toUnixTimestamp64Milli(e.ts)) AS last_step_ms,
               any(c.channel) AS channel,
               any(c.province) AS province,
               any(c.phone_masked) AS phone_masked
        FROM events AS e
        INNER JOIN cohort AS c ON c.lead_id = e.lead_id
        WHERE e.type = 'step' AND e.status = 'done'
          -- a coarse bound first (partition and minmax pruning), then the lead's own first step 1
          AND e.ts >= {start:DateTime64(3, 'UTC')}
          AND toUnixTimestamp64Milli(e.ts) >= c.start_ms
        GROUP BY c.lead_id
    )
SELECT lead_id, channel, phone_masked, province, level AS furthest_step, last_step_ms
FROM journeys
WHERE level = {step:UInt8}
ORDER BY last_step_ms DESC, lead_id
LIMIT {limit:UInt32}
