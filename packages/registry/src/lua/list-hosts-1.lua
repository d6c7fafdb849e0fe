--[[
  Lists every live host with its load, and prunes hosts whose lease lapsed from the index.

  KEYS[1] host index set          (<prefix>hosts)

  ARGV[1] key prefix

  Returns {address, max agents, lease ms, agent TTL ms, draining '1'/'0', load, lease left ms,
  address, ...}.
]]
local prefix = ARGV[1]
local result = {}
for _, address in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local hostKey = prefix .. 'host:' .. address
  local host = redis.call('HMGET', hostKey, 'maxAgents', 'leaseMs', 'agentTtlMs', 'draining')
  if host[1] then
    result[#result + 1] = address
    for j = 1, 4 do result[#result + 1] = host[j] end
    result[#result + 1] = redis.call('HLEN', prefix .. 'host-agents:' .. address)
    result[#result + 1] = redis.call('PTTL', hostKey)
  else
    redis.call('SREM', KEYS[1], address)
  end
end
return result
