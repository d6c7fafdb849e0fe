--[[
  seedEpochCounter(epochKey): sets a missing epoch counter (a new deployment, or Redis lost its
  data) to the server's clock in milliseconds, which is above any epoch handed out before the loss
  unless more than one registration per millisecond was made on average. An existing counter is
  left as it is.

  Returns nothing.
]]
local function seedEpochCounter(epochKey)
  if redis.call('EXISTS', epochKey) == 0 then
    local now = redis.call('TIME')
    redis.call('SET', epochKey, now[1] .. string.sub(string.format('%06d', tonumber(now[2])), 1, 3))
  end
end
