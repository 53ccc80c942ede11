-- FINAL over `events` merges a row with its duplicates inside its own partition only: a duplicate row is
-- the same event, with the same ts, so it is always in the same month (toYYYYMM(ts)) as the original.
-- Merging across partitions, ClickHouse's default, cost 1.25 s of a day's kpi_money and 2.1 s of a day's
-- per-minute series over 100M stored events; 65 and 96 ms with this (docs/benchmarks.md), same answers.
SETTINGS do_not_merge_across_partitions_select_final = 1
