-- How many stored events fall in the live window (progress of a live-store rebuild).
SELECT count()
FROM events
WHERE ts >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
