--[[
  Lists the desired agents of every guild through the guild index (no SCAN).

  KEYS[1] desired guild index set (<prefix>desired-guilds)

  ARGV[1] key prefix

  Returns {desired agent JSON, ...}.
]]
local result = {}
for _, guildId in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local agents = redis.call('HVALS', ARGV[1] .. 'desired:' .. guildId)
  if #agents == 0 then redis.call('SREM', KEYS[1], guildId) end
  for _, agent in ipairs(agents) do result[#result + 1] = agent end
end
return result
