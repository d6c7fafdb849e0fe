--[[
  Removes a host and every agent location it owns.

  KEYS[1] host record hash        (<prefix>host:<address>)
  KEYS[2] host agent hash         (<prefix>host-agents:<address>)
  KEYS[3] host lost hash          (<prefix>host-lost:<address>)
  KEYS[4] host index set          (<prefix>hosts)

  ARGV[1] key prefix
  ARGV[2] host address

  Returns the number of agent locations removed.
]]
--- @include "includes/remove-host-agents"

local hostKey, hostAgentsKey, lostKey, hostsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, address = ARGV[1], ARGV[2]

local removed = removeHostAgents(prefix, hostAgentsKey, address)
redis.call('DEL', hostKey, hostAgentsKey, lostKey)
redis.call('SREM', hostsKey, address)
return removed
