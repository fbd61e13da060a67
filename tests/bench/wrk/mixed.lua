-- GETs over keys <prefix>0 .. <prefix><count-1> with a share of writes: half
-- PUTs of the key's usual value, half DELETEs (the next GET reloads it).
-- Arguments: base path, key prefix, key count, write share (e.g. 0.1).
dofile("common.lua")

local base, prefix, count, writes
local VALUE_BYTES = 100

function init(args)
  seed_random()
  base, prefix, count, writes = args[1], args[2], tonumber(args[3]), tonumber(args[4])
end

-- Must match benchValue() in tests/bench/_workloads.ts: what the origin returns.
local function value(key)
  local unit = key .. "|"
  return string.rep(unit, math.ceil(VALUE_BYTES / #unit)):sub(1, VALUE_BYTES)
end

function request()
  local key = prefix .. math.random(0, count - 1)
  local roll = math.random()
  if roll >= writes then return wrk.format("GET", base .. key) end
  if roll < writes / 2 then return wrk.format("PUT", base .. key, nil, value(key)) end
  return wrk.format("DELETE", base .. key)
end
