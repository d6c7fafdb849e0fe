--[[
  Sets or clears a live host's draining flag; never recreates an expired host record.

  KEYS[1] host record hash        (<prefix>host:<address>)

  ARGV[1] '1' to drain, '0' to take new agents again

  Returns 1 if the host is registered, 0 if not.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'draining', ARGV[1])
return 1
