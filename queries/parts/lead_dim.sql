    -- per lead of `dim_leads` (a CTE of the including query: the leads the period can ask about, so the
    -- join's table follows the period, not every lead ever), its first `lead` event (rollup
    -- lead_attrs); reads nothing unless `attribute` is true. min() over the few rows of those leads
    -- rather than FINAL, which would merge every part of the whole table; tupleElement rather than a
    -- `first_lead.province` subcolumn, which chDB 26.9 reads under FINAL without merging.
    lead_dim AS
    (
        SELECT lead_id,
               tupleElement(first, 'channel') AS lead_channel,
               tupleElement(first, 'province') AS lead_province,
               tupleElement(first, 'phone_masked') AS phone_masked
        FROM
        (
            SELECT lead_id, min(first_lead) AS first
            FROM lead_attrs
            WHERE {attribute:Bool} AND lead_id IN (SELECT lead_id FROM dim_leads)
            GROUP BY lead_id
        )
    ),
