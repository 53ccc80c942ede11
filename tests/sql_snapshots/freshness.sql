-- Freshness (metrics.md): the largest event ts in the store, in UTC epoch milliseconds, and how many
-- events there are (zero events: no freshness at all rather than "since 1970").
SELECT count() AS events, toUnixTimestamp64Milli(max(ts)) AS max_ts_ms
FROM events
