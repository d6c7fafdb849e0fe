--[[
  writeAgentLocation(keys, location, ttl): stores an agent's location at its host under its epoch,
  the write that registering an agent and restoring a host share. The location expires after `ttl`
  ms, which the caller caps at the host's lease so that a location that exists is live. The host's
  agent hash lists the agent with its epoch; a stale "moved" report for it at this host is dropped,
  so it cannot reach the host now that the host holds the agent again; the guild's agent set lists
  it and lives at least as long as the location. The caller sets the host agent hash's expiry.

  keys: {agent = agent location hash, guild = guild agent set, hostAgents = host agent hash,
    hostLost = host lost hash}
  location: {host = address, epoch = epoch as text, guild = guild id, agent = agent id,
    name = agent name, spec = agent spec JSON}

  Returns nothing.
]]
local function writeAgentLocation(keys, location, ttl)
  local member = location.guild .. '/' .. location.agent
  redis.call('HSET', keys.agent, 'host', location.host, 'epoch', location.epoch,
    'guild', location.guild, 'agent', location.agent, 'name', location.name, 'spec', location.spec)
  redis.call('PEXPIRE', keys.agent, ttl)
  redis.call('HSET', keys.hostAgents, member, location.epoch)
  redis.call('HDEL', keys.hostLost, member)
  redis.call('SADD', keys.guild, location.agent)
  if redis.call('PTTL', keys.guild) < ttl then redis.call('PEXPIRE', keys.guild, ttl) end
end
