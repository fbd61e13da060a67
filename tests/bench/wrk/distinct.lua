-- GETs of <prefix>0 .. <prefix><total-1>, each key once: thread i of n takes
-- keys i, i+n, i+2n, ... and stops once its share has been answered. wrk
-- itself runs until its duration ends or it gets SIGINT, which
-- tests/bench/cluster.ts sends once the node has loaded every key.
-- Arguments: base path, key prefix, total keys, thread count.
dofile("common.lua")

local base, prefix, total, step
local next_key, answered, share, checked

function init(args)
  base, prefix, total, step = args[1], args[2], tonumber(args[3]), tonumber(args[4])
  next_key = thread_index
  answered = 0
  share = math.floor((total - 1 - thread_index) / step) + 1
  -- wrk calls request() once on thread 0's state to check the script before
  -- the run; that request is never sent, so it must not use up a key.
  checked = thread_index ~= 0
end

-- Past its share a thread repeats its last key (a cache hit, no new bytes)
-- until it stops.
function request()
  local key = next_key
  if not checked then
    checked = true
  elseif key + step < total then
    next_key = key + step
  end
  return wrk.format("GET", base .. prefix .. key)
end

-- The one script with a response() hook: it needs to know when to stop.
function response(status, headers, body)
  answered = answered + 1
  if answered >= share then wrk.thread:stop() end
end
