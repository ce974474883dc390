-- GET /v1/kv/bench-NNNNNNNNNN over the keys that bench/run.py loaded first.
-- KEYS (env) is how many keys were loaded.
local keys = tonumber(os.getenv("KEYS") or "1000")
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("/v1/kv/bench-%010d", counter % keys))
end
