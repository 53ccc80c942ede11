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
