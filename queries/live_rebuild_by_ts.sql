-- One page of the live window's events in (ts, event_id) order after a cursor (ecc.live_rebuild, history
-- phase). Only the columns the live store reads (ecc/live.py `encode`); money as text, exact.
-- include: live_columns
FROM events
WHERE ts >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
  AND (ts, event_id) > (fromUnixTimestamp64Milli({after_ms:Int64}, 'UTC'), {after_id:String})
ORDER BY ts, event_id
LIMIT {limit:UInt32}
