--[[
  Registers a host again after the registry forgot it, with the agents it still runs, each under
  the epoch it holds. Keeps the host's current agents, and never shortens its lease (their
  locations must not outlive it). An agent is restored unless another placement owns it (a
  location that exists is live). The epoch counter is raised to at least every restored epoch, so
  epochs never go backwards.

  KEYS[1] host record hash        (<prefix>host:<address>)
  KEYS[2] host agent hash         (<prefix>host-agents:<address>)
  KEYS[3] host lost hash          (<prefix>host-lost:<address>)
  KEYS[4] host index set          (<prefix>hosts)
  KEYS[5] epoch counter           (<prefix>epoch)

  ARGV[1] key prefix
  ARGV[2] host address
  ARGV[3] max agents
  ARGV[4] lease, ms
  ARGV[5] agent TTL, ms
  ARGV[6] '1' if draining, else '0'
  ARGV[7..] five per agent: guild id, agent id, epoch, agent name, agent spec JSON

  Returns {restored count, member, epoch, member, epoch, ...} listing the refused agents.
]]
--- @include "includes/seed-epoch-counter"
--- @include "includes/write-agent-location"

local hostKey, hostAgentsKey, lostKey, hostsKey, epochKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix, address = ARGV[1], ARGV[2]
local leaseMs, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])

local lease = math.max(redis.call('PTTL', hostKey), leaseMs)
redis.call('HSET', hostKey, 'maxAgents', ARGV[3], 'leaseMs', ARGV[4], 'agentTtlMs', ARGV[5],
  'draining', ARGV[6])
redis.call('PEXPIRE', hostKey, lease)
redis.call('SADD', hostsKey, address)

-- Seed a missing counter first, then raise it to every restored epoch.
seedEpochCounter(epochKey)
local counterText = redis.call('GET', epochKey)
local counter = tonumber(counterText)
local raised = false

local result = {0}
local restored = 0
for i = 7, #ARGV, 5 do
  local guildId, agentId, epoch, name, spec = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local member = guildId .. '/' .. agentId
  local agentKey = prefix .. 'agent:' .. member
  local location = redis.call('HMGET', agentKey, 'host', 'epoch')
  local accept = not location[1] or (location[1] == address and location[2] == epoch)
  if accept then
    writeAgentLocation(
      {agent = agentKey, guild = prefix .. 'guild-agents:' .. guildId, hostAgents = hostAgentsKey,
        hostLost = lostKey},
      {host = address, epoch = epoch, guild = guildId, agent = agentId, name = name, spec = spec},
      ttl)
    if tonumber(epoch) > counter then
      counter, counterText, raised = tonumber(epoch), epoch, true
    end
    restored = restored + 1
  else
    if redis.call('HGET', hostAgentsKey, member) == epoch then
      redis.call('HDEL', hostAgentsKey, member)
    end
    result[#result + 1] = member
    result[#result + 1] = epoch
  end
end
redis.call('PEXPIRE', hostAgentsKey, lease)
if raised then redis.call('SET', epochKey, counterText) end
result[1] = restored
return result
