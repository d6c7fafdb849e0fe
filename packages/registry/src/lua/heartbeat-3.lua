--[[
  Renews a host's lease and the TTL of every agent it still owns, in one step whatever the number
  of agents, and reports the agents it no longer owns (each once).

  KEYS[1] host record hash        (<prefix>host:<address>)
  KEYS[2] host agent hash         (<prefix>host-agents:<address>)
  KEYS[3] host lost hash          (<prefix>host-lost:<address>)

  ARGV[1] key prefix
  ARGV[2] host address

  Returns -1 if the host is not registered (lease lapsed, deregistered, or data lost), else
  {renewed count, member, epoch, reason, member, epoch, reason, ...} where reason is 'moved' (a
  newer placement owns the agent) or 'expired' (its location is gone).
]]
local hostKey, hostAgentsKey, lostKey = KEYS[1], KEYS[2], KEYS[3]
local prefix, address = ARGV[1], ARGV[2]

local host = redis.call('HMGET', hostKey, 'leaseMs', 'agentTtlMs')
if not host[1] then return -1 end
local leaseMs, ttlMs = tonumber(host[1]), tonumber(host[2])
redis.call('PEXPIRE', hostKey, leaseMs)

local result = {0}
local renewed = 0
local guilds = {}
local held = redis.call('HGETALL', hostAgentsKey)
for i = 1, #held, 2 do
  local member, epoch = held[i], held[i + 1]
  local agentKey = prefix .. 'agent:' .. member
  local location = redis.call('HMGET', agentKey, 'host', 'epoch', 'guild')
  if location[1] == address and location[2] == epoch then
    redis.call('PEXPIRE', agentKey, ttlMs)
    guilds[location[3]] = true
    renewed = renewed + 1
  else
    redis.call('HDEL', hostAgentsKey, member)
    result[#result + 1] = member
    result[#result + 1] = epoch
    result[#result + 1] = location[1] and 'moved' or 'expired'
  end
end
redis.call('PEXPIRE', hostAgentsKey, leaseMs)

-- A guild's agent set must outlive the locations it lists.
for guildId in pairs(guilds) do
  local guildKey = prefix .. 'guild-agents:' .. guildId
  if redis.call('PTTL', guildKey) < ttlMs then redis.call('PEXPIRE', guildKey, ttlMs) end
end

local moved = redis.call('HGETALL', lostKey)
if #moved > 0 then
  redis.call('DEL', lostKey)
  for i = 1, #moved, 2 do
    result[#result + 1] = moved[i]
    result[#result + 1] = moved[i + 1]
    result[#result + 1] = 'moved'
  end
end
result[1] = renewed
return result
