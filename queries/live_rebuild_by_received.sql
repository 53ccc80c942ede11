-- One page of the live window's events stored after a moment, in (received_at, event_id) order after a
-- cursor (ecc.live_rebuild, catch-up phase: rows the sink stored while or after the history was read).
-- include: live_columns
FROM events
WHERE ts >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
  AND (received_at, event_id) > (fromUnixTimestamp64Milli({after_ms:Int64}, 'UTC'), {after_id:String})
ORDER BY received_at, event_id
LIMIT {limit:UInt32}
