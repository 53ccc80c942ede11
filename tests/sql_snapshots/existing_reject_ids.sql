-- Which of a batch of reject_ids are already stored (a redelivered dead letter is kept once).
SELECT DISTINCT reject_id
FROM rejects
WHERE reject_id IN {ids:Array(String)}
