--[[
  Extends a lease, only for the holder of its token.

  KEYS[1] lease key               (<prefix>reconciler-lease)

  ARGV[1] token
  ARGV[2] lease, ms

  Returns 1 if renewed, 0 if the lease lapsed or another holder has it.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
