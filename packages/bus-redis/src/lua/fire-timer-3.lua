--[[
  Fires a durable agent's due timer, all or nothing: appends its message to the agent's inbox
  stream, as a publish would, and forgets the timer, so a timer committed once is released once
  however often its fire is retried. Only the copy of the agent's current placement fires: a
  copy left on another host, or one of a deleted agent, is refused and changes nothing.

  KEYS[1] agent record hash  (<prefix>bus-agent:{<guildId>}:<agentId>)
  KEYS[2] agent timers hash  (<prefix>bus-timers:{<guildId>}:<agentId>)
  KEYS[3] the agent's inbox stream (<prefix>bus:{<guildId>}:inbox:<agentId>)

  ARGV[1] placement epoch, decimal
  ARGV[2] timer id
  ARGV[3] the timer's message JSON
  ARGV[4] maxLenPerTopic: the stream's hard cap (XADD MAXLEN ~)

  Returns 1 fired, 0 gone (no such timer: it fired, was cancelled, or its commit never landed),
  or -1 fenced (a tombstone, or another epoch), -4 a key holds another type than the bus writes
  there, -5 unknown (no record: never claimed, or Redis lost its data).
]]
local stored = redis.call('HMGET', KEYS[1], 'epoch', 'deleted')
if not stored[1] then return -5 end
if stored[2] == '1' or tonumber(stored[1]) ~= tonumber(ARGV[1]) then return -1 end

local kind = redis.call('TYPE', KEYS[3]).ok
if kind ~= 'stream' and kind ~= 'none' then return -4 end
-- HDEL first: it answers whether the timer was pending, and fails on a wrong type before any write.
if redis.call('HDEL', KEYS[2], ARGV[2]) == 0 then return 0 end
-- Field 'm' as publish writes it (keys.ts MESSAGE_FIELD).
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'm', ARGV[3])
return 1
