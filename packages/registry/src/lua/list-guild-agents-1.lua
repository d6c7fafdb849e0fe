--[[
  Lists the live agents of a guild with their full specs, optionally only those with one name,
  and prunes agents whose location expired from the guild's set.

  KEYS[1] guild agent set         (<prefix>guild-agents:<guildId>)

  ARGV[1] key prefix
  ARGV[2] guild id
  ARGV[3] agent name to match, or '' for every agent

  Returns {agent id, host address, epoch, spec JSON, agent id, ...}.
]]
local prefix, guildId, name = ARGV[1], ARGV[2], ARGV[3]
local result = {}
for _, agentId in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local agentKey = prefix .. 'agent:' .. guildId .. '/' .. agentId
  local location = redis.call('HMGET', agentKey, 'host', 'epoch', 'name', 'spec')
  if not location[1] then
    redis.call('SREM', KEYS[1], agentId)
  elseif name == '' or location[3] == name then
    result[#result + 1] = agentId
    result[#result + 1] = location[1]
    result[#result + 1] = location[2]
    result[#result + 1] = location[4]
  end
end
return result
