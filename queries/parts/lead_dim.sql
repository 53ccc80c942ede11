    -- (tupleElement: a `col.name` subcolumn is read under FINAL without merging, see latest_snapshot)
    -- per lead of `dim_leads` (a CTE of the including query: the leads the period can ask about, so the
    -- join's table follows the period, not every lead ever), its first `lead` event (rollup
    -- lead_attrs); reads nothing unless `attribute` is true
    lead_dim AS
    (
        SELECT lead_id,
               tupleElement(first_lead, 'channel') AS lead_channel,
               tupleElement(first_lead, 'province') AS lead_province,
               tupleElement(first_lead, 'phone_masked') AS phone_masked
        FROM lead_attrs FINAL
        WHERE {attribute:Bool} AND lead_id IN (SELECT lead_id FROM dim_leads)
    ),
