SELECT event_id, toString(type) AS type, toUnixTimestamp64Milli(ts) AS ts_ms,
       toUnixTimestamp64Milli(received_at) AS received_ms, toString(channel) AS channel, lead_id,
       account_id, step, toString(status) AS status, toString(outcome) AS outcome,
       toString(direction) AS direction, first, toString(product) AS product, toString(amount) AS amount,
       toString(h_stock) AS h_stock, toString(h_fund) AS h_fund, toString(h_wealth) AS h_wealth,
       toString(h_bond) AS h_bond, toString(h_cash) AS h_cash
