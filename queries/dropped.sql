-- Dropped-off leads at one step (metrics.md): cohort leads (first done step-1 event in [start, end))
-- whose windowFunnel level (window_ms) is exactly `step` (1 <= step < 11): the recall list for outbound
-- calls, newest last step first. The cohort and levels are funnel.sql's (parts/cohort.sql).
-- Shown per lead: the channel of its first step-1 event (the one the channel filter applies to), the
-- masked phone and province of its first lead event, and the time of its last done step (when the
-- lead was last seen in the flow). Only leads idle since then: the last done step at or before
-- `idle_before_ms` (now - idle_hours). The phone and province are looked up afterwards for the listed
-- leads only (lead_contacts.sql); the whole cohort's provinces only when a province filter asks for
-- them (`attribute`).
WITH
    dim_leads AS (SELECT lead_id FROM events WHERE {attribute:Bool} AND type = 'step' AND step = 1
                  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}),
-- include: lead_dim
-- include: cohort
SELECT lead_id, channel, level AS furthest_step, last_step_ms
FROM journeys
WHERE level = {step:UInt8} AND last_step_ms <= {idle_before_ms:Int64}
ORDER BY last_step_ms DESC, lead_id
LIMIT {limit:UInt32}
