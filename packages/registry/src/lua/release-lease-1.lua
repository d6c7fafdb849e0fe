--[[
  Gives a lease up, only for the holder of its token.

  KEYS[1] lease key               (<prefix>reconciler-lease)

  ARGV[1] token

  Returns 1 if released, 0 if the lease lapsed or another holder has it.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
