-- Shared by every scenario script (each starts with dofile("common.lua"); wrk
-- runs with tests/bench/wrk as its working directory). On its own it makes wrk
-- send its static request to the URL it was given.
--
-- done() reports the run as one line, "WRK-RESULT {json}", that
-- tests/bench/cluster.ts parses. Status errors are wrk's own count of
-- responses with a status above 399, so no script needs a response() hook,
-- which would make wrk itself slower.

local threads = 0

-- Runs in the main Lua state once per thread, before the thread starts.
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

-- Each thread has its own Lua state; without distinct seeds every thread
-- would send the same key sequence.
function seed_random()
  math.randomseed(os.time() * 1000 + thread_index)
end

function init(args)
  seed_random()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,' ..
      '"statusErrors":%d,"socketErrors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
