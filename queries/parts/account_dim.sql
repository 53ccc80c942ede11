    -- per account, the lead that opened it and that step's channel (rollup account_attrs); reads
    -- nothing unless `attribute` is true
    account_dim AS
    (
        SELECT account_id, opener.lead_id AS opener_lead_id, opener.channel AS opener_channel
        FROM account_attrs FINAL
        WHERE {attribute:Bool}
    ),
