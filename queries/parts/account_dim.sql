    -- per account of `dim_accounts` (a CTE of the including query, like `dim_leads`), the lead that
    -- opened it and that step's channel (rollup account_attrs); reads nothing unless `attribute` is
    -- true. min() over those accounts' rows, as in lead_dim; when the query concerns `every_account`
    -- (AUM), FINAL over the whole table instead: no set of 2.2M ids to build and probe (AUM by channel
    -- over 100M events 1,676 -> 1,057 ms).
    account_dim AS
    (
        SELECT account_id, tupleElement(first, 'lead_id') AS opener_lead_id,
               tupleElement(first, 'channel') AS opener_channel
        FROM
        (
            SELECT account_id, min(opener) AS first
            FROM account_attrs
            WHERE {attribute:Bool} AND NOT {every_account:Bool}
              AND account_id IN (SELECT account_id FROM dim_accounts)
            GROUP BY account_id
            UNION ALL
            SELECT account_id, opener AS first
            FROM account_attrs FINAL
            WHERE {attribute:Bool} AND {every_account:Bool}
        )
    ),
