-- The masked phone and province of the first `lead` event of each listed lead (rollup lead_attrs): the
-- recall list's contact columns, looked up for its few rows by primary key once the list is known
-- (dropped.sql), instead of for every lead of the cohort. min() over the leads' rows, as in lead_dim.
SELECT lead_id, tupleElement(first, 'phone_masked') AS phone_masked, tupleElement(first, 'province') AS province
FROM
(
    SELECT lead_id, min(first_lead) AS first
    FROM lead_attrs
    WHERE lead_id IN {lead_ids:Array(String)}
    GROUP BY lead_id
)
