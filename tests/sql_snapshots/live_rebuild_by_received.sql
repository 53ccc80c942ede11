-- One page of the live window's events stored after a moment, in (received_at, event_id) order after a
-- cursor (ecc.live_rebuild, catch-up phase: rows the sink stored while or after the history was read).
SELECT event_id, toString(type) AS type, toUnixTimestamp64Milli(ts) AS ts_ms,
       toUnixTimestamp64Milli(received_at) AS received_ms, toString(channel) AS channel, lead_id,
       account_id, step, toString(status) AS status, toString(outcome) AS outcome,
       toString(direction) AS direction, first, toString(product) AS product, toString(amount) AS amount,
       toString(h_stock) AS h_stock, toString(h_fund) AS h_fund, toString(h_wealth) AS h_wealth,
       toString(h_bond) AS h_bond, toString(h_cash) AS h_cash
FROM events
WHERE ts >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
  AND (received_at, event_id) > (fromUnixTimestamp64Milli({after_ms:Int64}, 'UTC'), {after_id:String})
ORDER BY received_at, event_id
LIMIT {limit:UInt32}
