--[[
  Commits one step of a durable agent, all or nothing: its new state, its position past the
  handled message, the timers its handler set or cancelled, and the messages it sent. It must
  never release a message without storing the state and position that go with it, nor store a
  position without its state. Redis does not roll a script back, so whatever could fail is
  checked before the first write; a fenced, duplicate or out-of-order commit changes nothing.

  Variadic: 1 key, plus 2 when ARGV[5] is a position, plus 1 when the commit changes timers
  (ARGV[9] + ARGV[10] > 0), plus 1 per released message. A commit that changes no timer never
  names, reads or writes the timers hash.
  KEYS[1]    agent record hash                        (<prefix>bus-agent:{<guildId>}:<agentId>)
  KEYS[2]    with a position: the handled topic's cursors hash (<prefix>bus-cursors:{<guildId>}:<topic>)
  KEYS[3]    with a position: the handled topic's stream       (<prefix>bus:{<guildId>}:<topic>)
  KEYS[t]    with timer changes: the agent's timers hash (<prefix>bus-timers:{<guildId>}:<agentId>),
             t is 4 with a position, else 2
  KEYS[k..]  the stream of each released message, in ARGV order (k follows the keys above)

  ARGV[1] placement epoch, decimal
  ARGV[2] commit sequence, decimal
  ARGV[3] new state, JSON text; '' keeps the stored one
  ARGV[4] agent id
  ARGV[5] position of the handled message; '' for a commit of no message
  ARGV[6] topic of the handled message; '' without a position
  ARGV[7] maxLenPerTopic: every stream's hard cap (XADD MAXLEN ~)
  ARGV[8] trimAboveEntries: past this length the handled topic's stream is trimmed to the lowest
          position of its declared agents
  ARGV[9]  c: how many timers the commit cancels
  ARGV[10] s: how many timers it sets
  ARGV[11..10+c] the ids of the cancelled timers (cancelled before any is set)
  ARGV[11+c..10+c+2s] per timer set, its id then its JSON
  ARGV[11+c+2s..] the released messages' JSON, in order

  Returns 1 committed, 0 duplicate (the sequence was committed before: nothing changed), or
  -1 fenced (a tombstone, or another epoch), -2 out of order (not the next sequence),
  -4 a key holds another type than the bus writes there, -5 unknown (no record: never claimed,
  or Redis lost its data).
]]
local agentKey = KEYS[1]
local epoch, sequence, state, agentId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local position, topic, maxLen, trimAbove = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local cancels, schedules = tonumber(ARGV[9]), tonumber(ARGV[10])
local hasPosition = position ~= ''
local hasTimers = cancels + schedules > 0
local timersAt = hasPosition and 4 or 2
local firstMessage = hasTimers and timersAt + 1 or timersAt
local firstMessageArg = 11 + cancels + 2 * schedules

local stored = redis.call('HMGET', agentKey, 'epoch', 'deleted', 'commits', 'topics')
if not stored[1] then return -5 end
if stored[2] == '1' or tonumber(stored[1]) ~= tonumber(epoch) then return -1 end
local commits, wanted = tonumber(stored[3] or '0'), tonumber(sequence)
if commits >= wanted then return 0 end
if wanted ~= commits + 1 then return -2 end

local claimed = true
if hasPosition then claimed = redis.call('HEXISTS', KEYS[2], agentId) == 1 end
for i = hasPosition and 3 or 2, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  local expected = (hasTimers and i == timersAt) and 'hash' or 'stream'
  if kind ~= expected and kind ~= 'none' then return -4 end
end

-- Stream ids compared exactly, as decimal text: a Lua number loses digits past 2^53.
local function before(a, b)
  local aMs, aSeq = string.match(a, '^(%d+)-(%d+)$')
  local bMs, bSeq = string.match(b, '^(%d+)-(%d+)$')
  if aMs ~= bMs then
    if #aMs ~= #bMs then return #aMs < #bMs end
    return aMs < bMs
  end
  if #aSeq ~= #bSeq then return #aSeq < #bSeq end
  return aSeq < bSeq
end

if state ~= '' then redis.call('HSET', agentKey, 'state', state) end
redis.call('HSET', agentKey, 'commits', sequence)
if hasPosition then
  if not claimed then
    -- A topic the agent never claimed joins its topics, so deleting the agent removes this
    -- position too instead of leaving it to hold back trimming forever.
    local topics = cjson.decode(stored[4] or '[]')
    topics[#topics + 1] = topic
    redis.call('HSET', agentKey, 'topics', cjson.encode(topics))
  end
  redis.call('HSET', KEYS[2], agentId, position)
end
if hasTimers then
  for i = 11, 10 + cancels do redis.call('HDEL', KEYS[timersAt], ARGV[i]) end
  for i = 11 + cancels, firstMessageArg - 1, 2 do
    redis.call('HSET', KEYS[timersAt], ARGV[i], ARGV[i + 1])
  end
end
for i = firstMessage, #KEYS do
  -- Field 'm' as publish writes it (keys.ts MESSAGE_FIELD).
  local json = ARGV[firstMessageArg + i - firstMessage]
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', maxLen, '*', 'm', json)
end

-- Trimming waits for the slowest declared agent; only the hard cap above goes past it.
if hasPosition and redis.call('XLEN', KEYS[3]) > trimAbove then
  local lowest
  for _, held in ipairs(redis.call('HVALS', KEYS[2])) do
    if not lowest or before(held, lowest) then lowest = held end
  end
  redis.call('XTRIM', KEYS[3], 'MINID', '~', lowest)
end
return 1
