-- Rollup tables (schema.sql) whose backfill has not completed yet (their comment is set last).
SELECT name
FROM system.tables
WHERE database = currentDatabase()
  AND name IN {tables:Array(String)}
  AND comment = 'backfill pending'
