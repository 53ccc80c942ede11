-- ECC ClickHouse schema: the same statements run on chDB (embedded) and on a ClickHouse server.
-- Statements are separated by lines holding only ';'.

-- Every accepted event, one row per event_id. The sink checks the key before it inserts (exactly once
-- under redelivery); ReplacingMergeTree on the same key is the second line of defence.
CREATE TABLE IF NOT EXISTS events
(
    event_id     String,
    type         LowCardinality(String),
    ts           DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    channel      LowCardinality(String),
    lead_id      String,
    account_id   String,
    step         UInt8,
    status       LowCardinality(String),
    reason       String,
    outcome      LowCardinality(String),
    caller       LowCardinality(String),
    amount       Decimal(18, 2),
    direction    LowCardinality(String),
    first        UInt8,
    product      LowCardinality(String),
    province     LowCardinality(String),
    city         LowCardinality(String),
    device       LowCardinality(String),
    campaign     String,
    level        LowCardinality(String),
    segment      LowCardinality(String),
    h_stock      Decimal(18, 2),
    h_fund       Decimal(18, 2),
    h_wealth     Decimal(18, 2),
    h_bond       Decimal(18, 2),
    h_cash       Decimal(18, 2),
    phone_masked String,
    phone_hash   String,
    INDEX ts_minmax ts TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts, 'Asia/Shanghai')
ORDER BY (type, event_id)
;
-- Dead letters: what the door refused, with why. `raw` has phone numbers masked.
CREATE TABLE IF NOT EXISTS rejects
(
    reject_id   String,
    received_at DateTime64(3, 'UTC'),
    source      LowCardinality(String),
    reason      String,
    raw         String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, reject_id)
;
-- Rollups (docs/architecture.md "Rollups"): the attribution dimensions of the queries, kept by
-- materialized views as events arrive instead of re-derived from `events` by every query.
-- One column per rollup: min() of a tuple that starts with (ts, event_id), i.e. the whole earliest
-- event, so the order of arrival and redelivered rows change nothing (event_id is unique, so the
-- tuple minimum is exactly argMin by (ts, event_id), the oracle's "earliest"). Readers use FINAL:
-- rows of one key in parts not merged yet are merged at read time (min again), no GROUP BY needed.
-- A rollup is created with the comment 'backfill pending'; ecc.clickhouse.apply_schema then fills it
-- from the events already stored (queries/rollup_backfill.sql) and only then marks it 'backfilled'.
--
-- lead_attrs: per lead, its first `lead` event (channel, province, masked phone).
CREATE TABLE IF NOT EXISTS lead_attrs
(
    lead_id    String,
    first_lead SimpleAggregateFunction(min, Tuple(ts DateTime64(3, 'UTC'), event_id String,
                                                  channel String, province String, phone_masked String))
)
ENGINE = AggregatingMergeTree
ORDER BY lead_id
COMMENT 'backfill pending'
;
CREATE MATERIALIZED VIEW IF NOT EXISTS lead_attrs_mv TO lead_attrs AS
SELECT lead_id, min((ts, event_id, toString(channel), toString(province), phone_masked)) AS first_lead
FROM events
WHERE type = 'lead'
GROUP BY lead_id
;
-- account_attrs: per account, its first done step-11 event (the lead that opened it, its channel).
CREATE TABLE IF NOT EXISTS account_attrs
(
    account_id String,
    opener     SimpleAggregateFunction(min, Tuple(ts DateTime64(3, 'UTC'), event_id String,
                                                  lead_id String, channel String))
)
ENGINE = AggregatingMergeTree
ORDER BY account_id
COMMENT 'backfill pending'
;
CREATE MATERIALIZED VIEW IF NOT EXISTS account_attrs_mv TO account_attrs AS
SELECT account_id, min((ts, event_id, lead_id, toString(channel))) AS opener
FROM events
WHERE type = 'step' AND step = 11 AND status = 'done' AND account_id != ''
GROUP BY account_id
