-- Dropped-off leads at one step (metrics.md): cohort leads (first done step-1 event in [start, end))
-- whose windowFunnel level (window_ms) is exactly `step` (1 <= step < 11): the recall list for outbound
-- calls, newest last step first. The cohort and levels are funnel.sql's (parts/cohort.sql).
-- Shown per lead: the channel of its first step-1 event (the one the channel filter applies to), the
-- masked phone and province of its first lead event, and the time of its last done step (when the
-- lead was last seen in the flow). `attribute` is always true here (the phone comes from lead_dim).
-- Only leads idle since then: the last done step at or before `idle_before_ms` (now - idle_hours).
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
    -- the cohort (metrics.md): leads whose first done step-1 event is in [start, end), with the channel
    -- of that event and the province and masked phone of the lead's first lead event
    -- a lead's first step 1 is in the period when it has one there and none before: the period's step-1
    -- events, minus the leads among them with an earlier one (looked up for those leads only, so the
    -- cost follows the period, not the history)
    first_step1 AS
    (
        SELECT lead_id, min(ts) AS start_ts, argMin(channel, (ts, event_id)) AS channel_key
        FROM events
        WHERE type = 'step' AND step = 1 AND status = 'done'
          AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
          AND lead_id NOT IN (SELECT lead_id FROM events
                              WHERE type = 'step' AND step = 1 AND status = 'done'
                                AND ts < {start:DateTime64(3, 'UTC')}
                                AND lead_id IN (SELECT lead_id FROM events
                                                WHERE type = 'step' AND step = 1 AND status = 'done'
                                                  AND ts >= {start:DateTime64(3, 'UTC')}
                                                  AND ts < {end:DateTime64(3, 'UTC')}))
        GROUP BY lead_id
    ),
    cohort AS
    (
        SELECT f.lead_id AS lead_id, toUnixTimestamp64Milli(f.start_ts) AS start_ms,
               f.channel_key AS channel_key, l.lead_province AS province_key, l.phone_masked AS phone_masked
        FROM first_step1 AS f
        LEFT JOIN lead_dim AS l ON l.lead_id = f.lead_id
        WHERE
    (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
    AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
    ),
    -- each cohort lead's windowFunnel level over all its done steps from its first step 1 on (no upper
    -- time bound: windowFunnel applies the window itself, and a later step 1 may restart the chain, as in
    -- ClickHouse). windowFunnel takes a UInt64 of milliseconds (it rejects DateTime64 and Int64).
    journeys AS
    (
        SELECT c.lead_id AS lead_id,
               windowFunnel({window_ms:UInt64})(
                   toUInt64(toUnixTimestamp64Milli(e.ts)),
                   e.step = 1, e.step = 2, e.step = 3, e.step = 4, e.step = 5, e.step = 6,
                   e.step = 7, e.step = 8, e.step = 9, e.step = 10, e.step = 11) AS level,
               toUnixTimestamp64Milli(minIf(e.ts, e.step = 11)) - any(c.start_ms) AS convert_ms,
               max(toUnixTimestamp64Milli(e.ts)) AS last_step_ms,
               any(c.channel_key) AS channel,
               any(c.province_key) AS province,
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
WHERE level = {step:UInt8} AND last_step_ms <= {idle_before_ms:Int64}
ORDER BY last_step_ms DESC, lead_id
LIMIT {limit:UInt32}
