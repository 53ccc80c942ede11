-- How many dead letters are stored (a duplicate row of one rejection counts once).
SELECT uniqExact(reject_id) AS total
FROM rejects
