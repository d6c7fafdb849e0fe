--[[
  removeHostAgents(prefix, hostAgentsKey, address): deletes the agent locations the host at
  `address` still owns (its agent hash lists them with the epoch it holds; a location a newer
  placement owns is left alone) and drops them from their guilds' agent sets.

  Returns the number of agent locations deleted.
]]
local function removeHostAgents(prefix, hostAgentsKey, address)
  local removed = 0
  local held = redis.call('HGETALL', hostAgentsKey)
  for i = 1, #held, 2 do
    local member, epoch = held[i], held[i + 1]
    local agentKey = prefix .. 'agent:' .. member
    local location = redis.call('HMGET', agentKey, 'host', 'epoch', 'guild', 'agent')
    if location[1] == address and location[2] == epoch then
      redis.call('DEL', agentKey)
      redis.call('SREM', prefix .. 'guild-agents:' .. location[3], location[4])
      removed = removed + 1
    end
  end
  return removed
end
