-- GETs spread evenly over keys <prefix>0 .. <prefix><count-1>.
-- Arguments: base path (e.g. /mccache/bench/), key prefix, key count.
dofile("common.lua")

local base, prefix, count

function init(args)
  seed_random()
  base, prefix, count = args[1], args[2], tonumber(args[3])
end

function request()
  return wrk.format("GET", base .. prefix .. math.random(0, count - 1))
end
