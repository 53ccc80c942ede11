-- Acquisition KPIs (metrics.md): leads, dialed_leads, connected_leads for the period [start, end).
-- Grouped by the lead event's channel when by_channel is true (GET /channels), else one row ('').
-- Filters: the lead event's own channel; its own province, else the province of the lead's first
-- lead event. Calls count whenever they happened before `now` ("any time up to now"), unfiltered:
-- the rollup lead_calls holds each lead's first call and first connected call, read only for the
-- period's leads (primary key lookups instead of every call ever made).
-- The leads themselves are read from the events: "of those leads, the dialed ones" needs the set.
-- Distinct counts are immune to a duplicate event row, so no FINAL is needed here.
WITH
    dim_leads AS (SELECT lead_id FROM events WHERE {attribute:Bool} AND type = 'lead'
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
    leads_in_period AS
    (
        SELECT e.lead_id AS lead_id,
               e.channel AS channel_key,
               if(e.province != '', e.province, l.lead_province) AS province_key
        FROM events AS e
        LEFT JOIN lead_dim AS l ON l.lead_id = e.lead_id
        WHERE e.type = 'lead'
          AND e.ts >= {start:DateTime64(3, 'UTC')} AND e.ts < {end:DateTime64(3, 'UTC')}
    ),
    calls AS
    (
        SELECT lead_id, first_call, first_connected
        FROM lead_calls
        WHERE first_call < {now:DateTime64(3, 'UTC')}
          AND lead_id IN (SELECT lead_id FROM events
                          WHERE type = 'lead'
                            AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')})
    )
SELECT
    if({by_channel:Bool}, channel_key, '') AS group_key,
    uniqExact(lead_id) AS leads,
    uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM calls)) AS dialed_leads,
    uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM calls
                                     WHERE first_connected < {now:DateTime64(3, 'UTC')})) AS connected_leads
FROM leads_in_period
WHERE
    (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
    AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY group_key
