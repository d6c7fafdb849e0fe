--[[
  Removes an agent's location if it is still registered under the given epoch (fencing: a host
  that lost the agent to a newer placement removes nothing).

  KEYS[1] agent location hash     (<prefix>agent:<guildId>/<agentId>)
  KEYS[2] guild agent set         (<prefix>guild-agents:<guildId>)

  ARGV[1] key prefix
  ARGV[2] agent member            (<guildId>/<agentId>)
  ARGV[3] agent id
  ARGV[4] epoch

  Returns 1 when removed, -4 when no location is recorded, -5 when the epoch is not the
  agent's current one.
]]
local prefix, member, agentId, epoch = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local location = redis.call('HMGET', KEYS[1], 'host', 'epoch')
if not location[1] then return -4 end
if location[2] ~= epoch then return -5 end
redis.call('DEL', KEYS[1])
local hostAgentsKey = prefix .. 'host-agents:' .. location[1]
if redis.call('HGET', hostAgentsKey, member) == epoch then
  redis.call('HDEL', hostAgentsKey, member)
end
redis.call('SREM', KEYS[2], agentId)
return 1
