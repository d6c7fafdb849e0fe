--[[
  Registers an agent at a host under a new placement epoch. If another host held the agent, the
  agent leaves that host's agent hash in the same step and the move is recorded for that host's
  next heartbeat. The location expires with the agent TTL, and never after the host's lease, so a
  location that exists is live.

  KEYS[1] agent location hash     (<prefix>agent:<guildId>/<agentId>)
  KEYS[2] guild agent set         (<prefix>guild-agents:<guildId>)
  KEYS[3] host record hash        (<prefix>host:<address>)
  KEYS[4] host agent hash         (<prefix>host-agents:<address>)
  KEYS[5] epoch counter           (<prefix>epoch)

  ARGV[1] key prefix
  ARGV[2] guild id
  ARGV[3] agent id
  ARGV[4] host address
  ARGV[5] agent name
  ARGV[6] agent spec, JSON

  Returns {epoch, previous host address or nil, previous epoch or nil}, or
  -1 the host is not registered (or its lease lapsed), -2 the host is draining,
  -3 the host is full.
]]
--- @include "includes/seed-epoch-counter"
--- @include "includes/write-agent-location"

local agentKey, guildKey, hostKey, hostAgentsKey, epochKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix, guildId, agentId, address, name, spec = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local member = guildId .. '/' .. agentId

local host = redis.call('HMGET', hostKey, 'maxAgents', 'agentTtlMs', 'draining')
if not host[1] then return -1 end
if host[3] == '1' then return -2 end
local previous = redis.call('HMGET', agentKey, 'host', 'epoch')
if previous[1] ~= address and redis.call('HLEN', hostAgentsKey) >= tonumber(host[1]) then
  return -3
end

seedEpochCounter(epochKey)
-- Kept as text: how a Lua number becomes a string varies between Redis versions and may drop digits.
local epoch = string.format('%d', redis.call('INCR', epochKey))

if previous[1] and previous[1] ~= address then
  local oldAgentsKey = prefix .. 'host-agents:' .. previous[1]
  local held = redis.call('HGET', oldAgentsKey, member)
  if held then
    redis.call('HDEL', oldAgentsKey, member)
    local oldLease = redis.call('PTTL', prefix .. 'host:' .. previous[1])
    if oldLease > 0 then
      local oldLostKey = prefix .. 'host-lost:' .. previous[1]
      redis.call('HSET', oldLostKey, member, held)
      redis.call('PEXPIRE', oldLostKey, oldLease)
    end
  end
end

local lease = redis.call('PTTL', hostKey)
local ttl = math.min(tonumber(host[2]), lease)
-- Also drops a stale "moved" report from an earlier move away from this host.
writeAgentLocation(
  {agent = agentKey, guild = guildKey, hostAgents = hostAgentsKey,
    hostLost = prefix .. 'host-lost:' .. address},
  {host = address, epoch = epoch, guild = guildId, agent = agentId, name = name, spec = spec},
  ttl)
redis.call('PEXPIRE', hostAgentsKey, lease)
return {epoch, previous[1], previous[2]}
