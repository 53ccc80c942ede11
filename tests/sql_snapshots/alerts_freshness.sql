-- Freshness per source for the no_data rules (docs/alerts.md): the newest event ts of each event type in
-- (since, now], in UTC epoch milliseconds, in event time (a replay judges its own past "now").
SELECT toString(type) AS source, toUnixTimestamp64Milli(max(ts)) AS newest_ms
FROM events
WHERE ts > {since:DateTime64(3, 'UTC')} AND ts <= {now:DateTime64(3, 'UTC')}
GROUP BY source
