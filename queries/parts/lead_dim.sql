    -- per lead, its first `lead` event (rollup lead_attrs); reads nothing unless `attribute` is true
    lead_dim AS
    (
        SELECT lead_id, first_lead.channel AS lead_channel, first_lead.province AS lead_province,
               first_lead.phone_masked AS phone_masked
        FROM lead_attrs FINAL
        WHERE {attribute:Bool}
    ),
