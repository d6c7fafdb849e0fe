--[[
  Claims a durable agent for a placement epoch and returns its checkpoint. From then on every
  commit of another epoch is refused, so a copy left on another host can no longer change what
  this claim returned. An older epoch is refused; so is the epoch a tombstone was deleted under,
  and a newer one revives the agent afresh (no state, no commits).

  Variadic: 2 + 2n keys for n claimed topics, in the same topic order both times.
  KEYS[1]          agent record hash                (<prefix>bus-agent:{<guildId>}:<agentId>)
  KEYS[2]          agent timers hash                (<prefix>bus-timers:{<guildId>}:<agentId>)
  KEYS[3..n+2]     per claimed topic, cursors hash   (<prefix>bus-cursors:{<guildId>}:<topic>)
  KEYS[n+3..2n+2]  per claimed topic, its stream     (<prefix>bus:{<guildId>}:<topic>)

  ARGV[1] placement epoch, decimal
  ARGV[2] agent id
  ARGV[3] the claimed topics, a JSON array in KEYS order

  Returns {state or nil, commits, one position per claimed topic in KEYS order, then the JSON of
  each pending timer (any order)}, or
  {-1, stored epoch, '1' for a tombstone else '0'} when the claim is fenced.
]]
local agentKey, timersKey = KEYS[1], KEYS[2]
local epoch, agentId, claimed = ARGV[1], ARGV[2], ARGV[3]
local n = (#KEYS - 2) / 2

local stored = redis.call('HMGET', agentKey, 'epoch', 'deleted', 'topics')
local tombstone = stored[2] == '1'
if stored[1] then
  local wanted, held = tonumber(epoch), tonumber(stored[1])
  if wanted < held or (tombstone and wanted <= held) then
    return {-1, stored[1], tombstone and '1' or '0'}
  end
end

-- Reads first: a key of the wrong type then fails the script before it wrote anything. A new or
-- revived agent starts with no timers, whatever an older bus version's delete left behind.
local fresh = tombstone or not stored[1]
local timers = fresh and {} or redis.call('HVALS', timersKey)
local positions = {}
local missing = {}
for i = 1, n do
  local position = redis.call('HGET', KEYS[2 + i], agentId)
  if not position then
    -- A topic new to the agent starts at its end: it receives what is published from now on.
    local last = redis.call('XREVRANGE', KEYS[2 + n + i], '+', '-', 'COUNT', 1)
    position = last[1] and last[1][1] or '0-0'
    missing[i] = true
  end
  positions[i] = position
end

-- The record keeps the union of every claim's topics, so deleting the agent finds each position.
local topics, seen = {}, {}
local known = (stored[3] and not tombstone) and cjson.decode(stored[3]) or {}
for _, list in ipairs({known, cjson.decode(claimed)}) do
  for _, topic in ipairs(list) do
    if not seen[topic] then
      seen[topic] = true
      topics[#topics + 1] = topic
    end
  end
end

if tombstone then redis.call('DEL', agentKey) end
if fresh then redis.call('DEL', timersKey) end
-- cjson writes an empty table as {}, not [].
redis.call('HSET', agentKey, 'epoch', epoch, 'topics', #topics == 0 and '[]' or cjson.encode(topics))
redis.call('HSETNX', agentKey, 'commits', '0')
redis.call('PERSIST', agentKey)
for i = 1, n do
  if missing[i] then redis.call('HSET', KEYS[2 + i], agentId, positions[i]) end
end

local record = redis.call('HMGET', agentKey, 'state', 'commits')
local reply = {record[1], tonumber(record[2])}
for i = 1, n do reply[2 + i] = positions[i] end
for _, timer in ipairs(timers) do reply[#reply + 1] = timer end
return reply
