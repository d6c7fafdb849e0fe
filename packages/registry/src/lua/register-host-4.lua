--[[
  Registers a host that starts with no agents, with a fresh lease. Agents an earlier process
  registered at the same address (and still owns) are removed, so a restarted host leaves no
  ghosts behind.

  KEYS[1] host record hash        (<prefix>host:<address>)
  KEYS[2] host agent hash         (<prefix>host-agents:<address>)
  KEYS[3] host lost hash          (<prefix>host-lost:<address>)
  KEYS[4] host index set          (<prefix>hosts)

  ARGV[1] key prefix
  ARGV[2] host address
  ARGV[3] max agents
  ARGV[4] lease, ms
  ARGV[5] agent TTL, ms
  ARGV[6] '1' if draining, else '0'

  Returns the number of agent locations removed.
]]
--- @include "includes/remove-host-agents"

local hostKey, hostAgentsKey, lostKey, hostsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, address = ARGV[1], ARGV[2]

local removed = removeHostAgents(prefix, hostAgentsKey, address)
redis.call('DEL', hostKey, hostAgentsKey, lostKey)
redis.call('HSET', hostKey, 'maxAgents', ARGV[3], 'leaseMs', ARGV[4], 'agentTtlMs', ARGV[5],
  'draining', ARGV[6])
redis.call('PEXPIRE', hostKey, ARGV[4])
redis.call('SADD', hostsKey, address)
return removed
