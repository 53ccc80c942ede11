-- Empty one table of schema.sql (tests and benchmarks; ecc.clickhouse.truncate_all names each table).
TRUNCATE TABLE {table:Identifier}
