-- GETs over keys <prefix>0 .. <prefix><count-1>, key i weighted 1/(i+1)^s.
-- Arguments: base path, key prefix, key count, s.
dofile("common.lua")

local count
local cdf, requests = {}, {}

-- The cumulative weights, normalised to end at 1, and the requests (see
-- uniform.lua) built once per thread, so that each request costs one
-- binary search.
function init(args)
  seed_random()
  local base, prefix = args[1], args[2]
  count = tonumber(args[3])
  local s, sum = tonumber(args[4]), 0
  for i = 1, count do
    sum = sum + 1 / i ^ s
    cdf[i] = sum
    requests[i] = wrk.format("GET", base .. prefix .. (i - 1))
  end
  for i = 1, count do cdf[i] = cdf[i] / sum end
end

-- The first index whose cumulative weight reaches u (key <prefix><index-1>).
local function pick(u)
  local lo, hi = 1, count
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

function request()
  return requests[pick(math.random())]
end
