--[[
  Records (or replaces) an agent the engine wants running, and indexes its guild.

  KEYS[1] desired agents hash     (<prefix>desired:<guildId>)
  KEYS[2] desired guild index set (<prefix>desired-guilds)

  ARGV[1] guild id
  ARGV[2] agent id
  ARGV[3] desired agent JSON ({ guild, spec })

  Returns 1.
]]
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
