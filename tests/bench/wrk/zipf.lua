-- GETs over keys <prefix>0 .. <prefix><count-1>, key i weighted 1/(i+1)^s.
-- Arguments: base path, key prefix, key count, s.
dofile("common.lua")

local base, prefix, count
local cdf = {}

-- The cumulative weights, normalised to end at 1, built once per thread so
-- that each request costs one binary search.
function init(args)
  seed_random()
  base, prefix, count = args[1], args[2], tonumber(args[3])
  local s, sum = tonumber(args[4]), 0
  for i = 1, count do
    sum = sum + 1 / i ^ s
    cdf[i] = sum
  end
  for i = 1, count do cdf[i] = cdf[i] / sum end
end

-- The first index whose cumulative weight reaches u (0-based, as key names are).
local function pick(u)
  local lo, hi = 1, count
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo - 1
end

function request()
  return wrk.format("GET", base .. prefix .. pick(math.random()))
end
