-- ECC live store: apply a batch of normalised events to today's counters, exactly once per event_id.
--
-- Why Lua: a script runs atomically in Redis, so an event is either fully applied (and its event_id
-- remembered) or not at all. A worker killed mid-stream re-reads its batch from Kafka (at-least-once);
-- the event_ids already applied are skipped here, so the counters converge to the truth.
--
-- Distinct counts (leads, reach, dialed, ...) are kept as sets per Shanghai day with a counter beside
-- them that only moves when SADD adds a new member: reading the wall is one HGETALL.
--
-- ARGV: prefix, seen_ttl_s, day_ttl_s, n_live_days, live_day_1..n, then the batch: ONE JSON array of
-- records, each an array of strings  [type, event_id, day, minute, ts_ms, channel, a1, a2, ...]
-- where a1.. depend on the type (see ecc/live_codec.py). One argument for the whole batch: redis-py
-- packs it at once and cjson decodes it in C (14 arguments an event cost more in Python than the script).
-- Returns {applied, duplicates}.

local P = ARGV[1]
local seen_ttl = tonumber(ARGV[2])
local day_ttl = tonumber(ARGV[3])
local n_days = tonumber(ARGV[4])
local live_days = {}
for i = 1, n_days do live_days[i] = ARGV[4 + i] end
local touched = {}

local function dkey(day, name) local k = P .. day .. ':' .. name; touched[k] = true; return k end

-- Count `member` once in the day's distinct set `name` (and once per channel); bump the minute series.
local function distinct(day, name, member, ch, minute)
  if redis.call('SADD', dkey(day, 's:' .. name), member) == 1 then
    redis.call('HINCRBY', dkey(day, 'c'), name, 1)
    if minute then redis.call('HINCRBY', dkey(day, 'm'), name .. '@' .. minute, 1) end
  end
  if ch and ch ~= '' then
    if redis.call('SADD', dkey(day, 's:' .. name .. '|' .. ch), member) == 1 then
      redis.call('HINCRBY', dkey(day, 'c'), name .. '|' .. ch, 1)
    end
  end
end

local function add(day, field, ch, delta, minute)
  redis.call('HINCRBY', dkey(day, 'c'), field, delta)
  if ch and ch ~= '' then redis.call('HINCRBY', dkey(day, 'c'), field .. '|' .. ch, delta) end
  if minute then redis.call('HINCRBY', dkey(day, 'm'), field .. '@' .. minute, delta) end
end

-- The channel of the lead that opened `account`, from the live days' step-11 records.
local function account_channel(account)
  for _, d in ipairs(live_days) do
    local ch = redis.call('HGET', P .. d .. ':acct', account)
    if ch then return ch end
  end
  return ''
end

-- A lead counts as dialed (connected) on day d once it is among d's leads and has any such call.
local function join_calls(day, lead, ch)
  if redis.call('ZSCORE', P .. 'called', lead) then distinct(day, 'dialed_leads', lead, ch) end
  if redis.call('ZSCORE', P .. 'connected', lead) then distinct(day, 'connected_leads', lead, ch) end
end

local function join_deposit(day, account, ch)
  if redis.call('ZSCORE', P .. 'deposited', account) then distinct(day, 'opened_deposited', account, ch) end
end

-- Freshness: the newest event time per type, kept in Lua over the batch and written once at the end.
local fresh, fresh_text = {}, {}
local function note_fresh(field, ts, text)
  if not fresh[field] or ts > fresh[field] then fresh[field] = ts; fresh_text[field] = text end
end

local applied, dups = 0, 0
local records = cjson.decode(ARGV[5 + n_days])
for j = 1, #records do
  local r = records[j]
  local etype, id, day, minute, ts_text, ch = r[1], r[2], r[3], r[4], r[5], r[6]
  local ts = tonumber(ts_text)
  local a = {r[7] or '', r[8] or '', r[9] or '', r[10] or '', r[11] or '', r[12] or '', r[13] or ''}
  if not redis.call('SET', P .. 'seen:' .. id, '1', 'NX', 'EX', seen_ttl) then
    dups = dups + 1
  else
    applied = applied + 1
    if etype == 'lead' then
      -- a1 = lead_id
      distinct(day, 'leads', a[1], ch, minute)
      redis.call('HSET', dkey(day, 'leadch'), a[1], ch)
      join_calls(day, a[1], ch)
    elseif etype == 'step' then
      -- a1 = lead_id, a2 = step, a3 = status, a4 = account_id
      if a[3] == 'done' then
        distinct(day, 'reach:' .. a[2], a[1], ch, (a[2] == '11' or a[2] == '1') and minute or nil)
        if a[2] == '11' and a[4] ~= '' then
          redis.call('HSET', dkey(day, 'acct'), a[4], ch)
          join_deposit(day, a[4], ch)
        end
      else
        add(day, 'rejects:' .. a[2], ch, 1)
      end
    elseif etype == 'call' then
      -- a1 = lead_id, a2 = outcome
      add(day, 'calls', ch, 1, minute)
      redis.call('ZADD', P .. 'called', 'GT', ts_text, a[1])
      if a[2] == 'connected' then redis.call('ZADD', P .. 'connected', 'GT', ts_text, a[1]) end
      for _, d in ipairs(live_days) do
        local lead_ch = redis.call('HGET', P .. d .. ':leadch', a[1])
        if lead_ch then join_calls(d, a[1], lead_ch) end
      end
    elseif etype == 'deposit' then
      -- a1 = account_id, a2 = direction, a3 = first (1/0), a4 = amount in fen
      if ch == '' then ch = account_channel(a[1]) end
      if a[2] == 'in' then
        add(day, 'deposit_in_fen', ch, tonumber(a[4]), minute)
        if a[3] == '1' then distinct(day, 'first_deposits', a[1], ch) end
        redis.call('ZADD', P .. 'deposited', 'GT', ts_text, a[1])
        for _, d in ipairs(live_days) do
          local acct_ch = redis.call('HGET', P .. d .. ':acct', a[1])
          if acct_ch then join_deposit(d, a[1], acct_ch) end
        end
      else
        add(day, 'deposit_out_fen', ch, tonumber(a[4]))
      end
    elseif etype == 'trade' then
      -- a1 = account_id, a2 = product, a4 = amount in fen
      if ch == '' then ch = account_channel(a[1]) end
      add(day, 'trade_fen:' .. a[2], ch, tonumber(a[4]))
    end
    note_fresh(etype, ts, ts_text)
    note_fresh('all', ts, ts_text)
  end
end

for field, ts in pairs(fresh) do
  local cur = tonumber(redis.call('HGET', P .. 'fresh', field) or '0')
  if ts > cur then redis.call('HSET', P .. 'fresh', field, fresh_text[field]) end
end
for key, _ in pairs(touched) do redis.call('EXPIRE', key, day_ttl) end
return {applied, dups}
