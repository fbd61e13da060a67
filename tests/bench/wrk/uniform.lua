-- GETs spread evenly over keys <prefix>0 .. <prefix><count-1>.
-- Arguments: base path (e.g. /mccache/bench/), key prefix, key count.
dofile("common.lua")

local requests, count = {}, 0

-- Every request formatted once per thread: formatting one per request cost
-- wrk ~5% of the machine, which the bare baseline's static request does not pay.
function init(args)
  seed_random()
  local base, prefix = args[1], args[2]
  count = tonumber(args[3])
  for i = 1, count do requests[i] = wrk.format("GET", base .. prefix .. (i - 1)) end
end

function request()
  return requests[math.random(count)]
end
