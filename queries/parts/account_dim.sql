    -- (tupleElement: a `col.name` subcolumn is read under FINAL without merging, see latest_snapshot)
    -- per account of `dim_accounts` (a CTE of the including query, like `dim_leads`), the lead that
    -- opened it and that step's channel (rollup account_attrs); reads nothing unless `attribute` is true
    account_dim AS
    (
        SELECT account_id, tupleElement(opener, 'lead_id') AS opener_lead_id,
               tupleElement(opener, 'channel') AS opener_channel
        FROM account_attrs FINAL
        WHERE {attribute:Bool} AND account_id IN (SELECT account_id FROM dim_accounts)
    ),
