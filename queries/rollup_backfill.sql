-- Backfill of the rollups (schema.sql) from the events already stored, run by
-- ecc.clickhouse.apply_schema while a rollup's comment still says 'backfill pending': right after the
-- rollup and its materialized view are created, or again if a previous run stopped half way.
-- The view exists before this runs, so no event is missed; an event both backfilled and seen by the
-- view is just a second equal candidate for min(). The SELECTs are the views' own.
-- Statements are separated by lines holding only ';'.
INSERT INTO lead_attrs
SELECT lead_id, min((ts, event_id, toString(channel), toString(province), phone_masked)) AS first_lead
FROM events
WHERE type = 'lead'
GROUP BY lead_id
;
INSERT INTO account_attrs
SELECT account_id, min((ts, event_id, lead_id, toString(channel))) AS opener
FROM events
WHERE type = 'step' AND step = 11 AND status = 'done' AND account_id != ''
GROUP BY account_id
;
ALTER TABLE lead_attrs MODIFY COMMENT 'backfilled'
;
ALTER TABLE account_attrs MODIFY COMMENT 'backfilled'
