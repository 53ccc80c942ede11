-- One page of dead letters, newest first (FINAL: a duplicate row of one rejection is listed once).
SELECT reject_id, toUnixTimestamp64Milli(received_at) AS received_ms, source, reason, raw
FROM rejects FINAL
ORDER BY received_at DESC, reject_id DESC
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
