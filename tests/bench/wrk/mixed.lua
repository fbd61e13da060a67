-- GETs over keys <prefix>0 .. <prefix><count-1> with a share of writes: half
-- PUTs of the key's usual value, half DELETEs (the next GET reloads it).
-- Arguments: base path, key prefix, key count, write share (e.g. 0.1).
dofile("common.lua")

local count, writes
local gets, puts, deletes = {}, {}, {}
local VALUE_BYTES = 100

-- Must match benchValue() in tests/bench/_workloads.ts: what the origin returns.
local function value(key)
  local unit = key .. "|"
  return string.rep(unit, math.ceil(VALUE_BYTES / #unit)):sub(1, VALUE_BYTES)
end

-- Every request formatted once per thread (see uniform.lua).
function init(args)
  seed_random()
  local base, prefix = args[1], args[2]
  count, writes = tonumber(args[3]), tonumber(args[4])
  for i = 1, count do
    local key = prefix .. (i - 1)
    gets[i] = wrk.format("GET", base .. key)
    puts[i] = wrk.format("PUT", base .. key, nil, value(key))
    deletes[i] = wrk.format("DELETE", base .. key)
  end
end

function request()
  local i = math.random(count)
  local roll = math.random()
  if roll >= writes then return gets[i] end
  if roll < writes / 2 then return puts[i] end
  return deletes[i]
end
