--[[
  Deletes a durable agent: its state, its timers and its position in each of its topics go, and a
  tombstone keeps its last epoch for tombstoneTtlMs, so no copy still running under it can commit
  or fire again.
  The caller passes the cursors hashes of the topics it read from the record; a claim that added
  a topic since then makes the script refuse rather than leave that position behind.

  Variadic: 2 + n keys for the n topics of the record.
  KEYS[1]       agent record hash                      (<prefix>bus-agent:{<guildId>}:<agentId>)
  KEYS[2]       agent timers hash                      (<prefix>bus-timers:{<guildId>}:<agentId>)
  KEYS[3..n+2]  the cursors hash of each recorded topic (<prefix>bus-cursors:{<guildId>}:<topic>)

  ARGV[1] agent id
  ARGV[2] the record's `topics` field as the caller read it ('' when there was none)
  ARGV[3] tombstoneTtlMs

  Returns 1 deleted, 0 nothing to delete (no record, or a tombstone already), or
  -3 the record's topics changed since the caller read them: read them again and retry.
]]
local agentKey, agentId, topics, ttl = KEYS[1], ARGV[1], ARGV[2], ARGV[3]

local stored = redis.call('HMGET', agentKey, 'epoch', 'deleted', 'topics')
if not stored[1] or stored[2] == '1' then return 0 end
if (stored[3] or '') ~= topics then return -3 end

for i = 3, #KEYS do redis.call('HDEL', KEYS[i], agentId) end
redis.call('DEL', agentKey, KEYS[2])
redis.call('HSET', agentKey, 'epoch', stored[1], 'deleted', '1')
redis.call('PEXPIRE', agentKey, ttl)
return 1
