-- Which of a batch of event_ids are already stored (the sink's exactly-once check).
-- event_id is the second column of the primary key (type, event_id); with only six types the
-- generic exclusion search still skips every granule whose event_id range holds none of the ids.
SELECT DISTINCT event_id
FROM events
WHERE event_id IN {ids:Array(String)}
