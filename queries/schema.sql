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
;
-- facts_hourly: exact distinct counts per UTC hour (= a Shanghai hour: the zone is a whole +8 h with no
-- daylight saving, so Shanghai days are runs of 24 of these hours) × event type × the event's own
-- channel × step × status × outcome. The states are uniqExact over the String ids: ClickHouse keeps a
-- 128-bit SipHash of each string, so two ids count as one only if their hashes collide (about 1 in 10^21
-- for a billion ids: far below any other error source). Merging states is a set union, so a duplicate
-- event row or a row seen by both the view and the backfill adds nothing.
--   leads:    lead_id of lead, step and call events (reach[k], leads)
--   events:   event_id of calls and rejected steps (counts of events: calls, rejects[k])
--   accounts: account_id of done step-11 events (opened accounts)
-- Only the event's own fields are kept: the attributed channel and the lead's province join across
-- time (a late lead event changes them), so queries that filter by those read events instead.
CREATE TABLE IF NOT EXISTS facts_hourly
(
    hour      DateTime('UTC'),
    type      LowCardinality(String),
    channel   LowCardinality(String),
    step      UInt8,
    status    LowCardinality(String),
    outcome   LowCardinality(String),
    leads     AggregateFunction(uniqExact, String),
    events    AggregateFunction(uniqExact, String),
    accounts  AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour, 'Asia/Shanghai')
ORDER BY (type, hour, step, status, channel, outcome)
COMMENT 'backfill pending'
;
CREATE MATERIALIZED VIEW IF NOT EXISTS facts_hourly_mv TO facts_hourly AS
SELECT toStartOfHour(toDateTime(ts, 'UTC')) AS hour, type, channel, step, status, outcome,
       uniqExactStateIf(lead_id, lead_id != '') AS leads,
       uniqExactStateIf(event_id, type = 'call' OR status = 'rejected') AS events,
       uniqExactStateIf(account_id, type = 'step' AND step = 11 AND status = 'done' AND account_id != '')
           AS accounts
FROM events
WHERE type IN ('lead', 'step', 'call')
GROUP BY hour, type, channel, step, status, outcome
;
-- lead_calls: per lead, its first call and its first connected call (the year 2299 when none): "dialed
-- up to now" is first_call < now. min() is idempotent, so duplicates and late calls change nothing;
-- readers may skip FINAL when they only ask whether some row is before a moment.
CREATE TABLE IF NOT EXISTS lead_calls
(
    lead_id         String,
    first_call      SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    first_connected SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY lead_id
COMMENT 'backfill pending'
;
CREATE MATERIALIZED VIEW IF NOT EXISTS lead_calls_mv TO lead_calls AS
SELECT lead_id, min(ts) AS first_call,
       min(if(outcome = 'connected', ts, toDateTime64('2299-12-31 00:00:00', 3, 'UTC'))) AS first_connected
FROM events
WHERE type = 'call' AND lead_id != ''
GROUP BY lead_id
;
-- account_deposits: per account, its first `in` deposit (deposit_rate: "any in deposit up to now").
CREATE TABLE IF NOT EXISTS account_deposits
(
    account_id String,
    first_in   SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY account_id
COMMENT 'backfill pending'
;
CREATE MATERIALIZED VIEW IF NOT EXISTS account_deposits_mv TO account_deposits AS
SELECT account_id, min(ts) AS first_in
FROM events
WHERE type = 'deposit' AND direction = 'in' AND account_id != ''
GROUP BY account_id
;
-- account_latest: per account, its latest asset snapshot (by ts, then event_id: the contract's order),
-- as the max() of a tuple that starts with (ts, event_id), kept by the engine instead of sorted at query
-- time. AUM at a moment reads it for every account whose latest snapshot is before that moment and
-- falls back to the events only for the accounts with a newer one.
CREATE TABLE IF NOT EXISTS account_latest
(
    account_id String,
    latest     SimpleAggregateFunction(max, Tuple(ts DateTime64(3, 'UTC'), event_id String,
                                                  h_stock Decimal(18, 2), h_fund Decimal(18, 2),
                                                  h_wealth Decimal(18, 2), h_bond Decimal(18, 2),
                                                  h_cash Decimal(18, 2), level String, segment String,
                                                  province String, channel String))
)
ENGINE = AggregatingMergeTree
ORDER BY account_id
COMMENT 'backfill pending'
;
CREATE MATERIALIZED VIEW IF NOT EXISTS account_latest_mv TO account_latest AS
SELECT account_id,
       max((ts, event_id, h_stock, h_fund, h_wealth, h_bond, h_cash, toString(level), toString(segment),
            toString(province), toString(channel))) AS latest
FROM events
WHERE type = 'asset' AND account_id != ''
GROUP BY account_id
;
-- lead_progress: per lead, what the cohort funnel and the recall list need of its journey, kept by the
-- engine instead of re-read from the events by every query: its first done step-1 event (ts, event_id,
-- channel; the year 2299 when it has none yet) and the set of (ts in ms, step) of its done steps. Both
-- merge idempotently (min, set union): a duplicate or late step changes nothing or lands in its place.
-- Two done steps with the same ts and step count once, which windowFunnel cannot tell apart anyway.
CREATE TABLE IF NOT EXISTS lead_progress
(
    lead_id     String,
    first_step1 SimpleAggregateFunction(min, Tuple(ts DateTime64(3, 'UTC'), event_id String, channel String)),
    done_steps  AggregateFunction(groupUniqArray, Tuple(UInt64, UInt8))
)
ENGINE = AggregatingMergeTree
ORDER BY lead_id
COMMENT 'backfill pending'
;
CREATE MATERIALIZED VIEW IF NOT EXISTS lead_progress_mv TO lead_progress AS
SELECT lead_id,
       min(if(step = 1, (ts, event_id, toString(channel)),
              (toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), '', ''))) AS first_step1,
       groupUniqArrayState((toUInt64(toUnixTimestamp64Milli(ts)), step)) AS done_steps
FROM events
WHERE type = 'step' AND status = 'done' AND lead_id != ''
GROUP BY lead_id
