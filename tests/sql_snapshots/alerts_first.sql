-- The oldest stored event (UTC epoch ms): a baseline window that starts before it is not a baseline but
-- the time before the installation had data (docs/alerts.md "Baselines"). 0 when nothing is stored.
SELECT toUnixTimestamp64Milli(min(ts)) AS first_ms, count() AS stored
FROM events
