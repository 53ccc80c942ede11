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
-- include: lead_dim
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
-- include: filters
GROUP BY group_key
