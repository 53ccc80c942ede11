-- Acquisition KPIs (metrics.md): leads, dialed_leads, connected_leads for the period [start, end).
-- Grouped by the lead event's channel when by_channel is true (GET /channels), else one row ('').
-- Filters: the lead event's own channel; its own province, else the province of the lead's first
-- lead event. Calls count whenever they happened before `now` ("any time up to now"), unfiltered.
-- Distinct counts are immune to a duplicate event row, so no FINAL is needed here.
-- When `attribute` is false (no filter, no per-channel grouping) the dimension CTEs have a
-- constant-false WHERE and read nothing.
WITH
    lead_dim AS
    (
        SELECT lead_id, first_lead.province AS lead_province
        FROM lead_attrs FINAL
        WHERE {attribute:Bool}
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
    )
SELECT
    if({by_channel:Bool}, channel_key, '') AS group_key,
    uniqExact(lead_id) AS leads,
    uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM events
                                     WHERE type = 'call' AND ts < {now:DateTime64(3, 'UTC')})) AS dialed_leads,
    uniqExactIf(lead_id, lead_id IN (SELECT lead_id FROM events
                                     WHERE type = 'call' AND outcome = 'connected'
                                       AND ts < {now:DateTime64(3, 'UTC')})) AS connected_leads
FROM leads_in_period
WHERE (empty({channels:Array(String)}) OR has({channels:Array(String)}, channel_key))
  AND (empty({provinces:Array(String)}) OR has({provinces:Array(String)}, province_key))
GROUP BY group_key
