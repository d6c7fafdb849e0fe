--[[
  Forgets one desired agent, or all of a guild's, and drops the guild from the index once it has
  none left.

  KEYS[1] desired agents hash     (<prefix>desired:<guildId>)
  KEYS[2] desired guild index set (<prefix>desired-guilds)

  ARGV[1] guild id
  ARGV[2] agent id, or '' for every agent of the guild

  Returns the number of desired agents removed.
]]
local removed
if ARGV[2] == '' then
  removed = redis.call('HLEN', KEYS[1])
  redis.call('DEL', KEYS[1])
else
  removed = redis.call('HDEL', KEYS[1], ARGV[2])
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return removed
