    -- (tupleElement, not `latest.ts`: chDB 26.9 reads a subcolumn of a SimpleAggregateFunction column
    -- under FINAL from one part without merging, tests/test_analytics.py shows it)
    -- each account of `snapshot_accounts` with its newest asset snapshot before `at` (by ts, then
    -- event_id): rollup account_latest when the account's newest snapshot ever is before `at`, else
    -- (only the accounts with a snapshot since) sorted from the events
    latest AS
    (
        SELECT account_id,
               tupleElement(latest, 'h_stock') AS h_stock, tupleElement(latest, 'h_fund') AS h_fund,
               tupleElement(latest, 'h_wealth') AS h_wealth, tupleElement(latest, 'h_bond') AS h_bond,
               tupleElement(latest, 'h_cash') AS h_cash, tupleElement(latest, 'level') AS level,
               tupleElement(latest, 'segment') AS segment, tupleElement(latest, 'province') AS province,
               tupleElement(latest, 'channel') AS channel
        FROM account_latest FINAL
        WHERE tupleElement(latest, 'ts') < {at:DateTime64(3, 'UTC')}
          AND account_id IN (SELECT account_id FROM snapshot_accounts)
        UNION ALL
        SELECT account_id, h_stock, h_fund, h_wealth, h_bond, h_cash, toString(level), toString(segment),
               toString(province), toString(channel)
        FROM events
        WHERE type = 'asset' AND ts < {at:DateTime64(3, 'UTC')}
          AND account_id IN (SELECT account_id FROM account_latest FINAL
                             WHERE tupleElement(latest, 'ts') >= {at:DateTime64(3, 'UTC')}
                               AND account_id IN (SELECT account_id FROM snapshot_accounts))
        ORDER BY account_id, ts DESC, event_id DESC
        LIMIT 1 BY account_id
    ),
