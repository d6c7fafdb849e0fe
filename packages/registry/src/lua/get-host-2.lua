--[[
  Reads a live host and its load.

  KEYS[1] host record hash        (<prefix>host:<address>)
  KEYS[2] host agent hash         (<prefix>host-agents:<address>)

  Returns {max agents, lease ms, agent TTL ms, draining '1'/'0', load, lease left ms}, or nil if
  the host is not registered.
]]
local host = redis.call('HMGET', KEYS[1], 'maxAgents', 'leaseMs', 'agentTtlMs', 'draining')
if not host[1] then return nil end
host[5] = redis.call('HLEN', KEYS[2])
host[6] = redis.call('PTTL', KEYS[1])
return host
