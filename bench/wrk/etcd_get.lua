-- etcd's JSON gateway read, POST /v3/kv/range {"key": base64}, over the keys bench/run.py loaded.
-- BENCH_DIR (env) is where base64.lua is; KEYS how many keys were loaded.
local base64 = dofile(os.getenv("BENCH_DIR") .. "/wrk/base64.lua")
local keys = tonumber(os.getenv("KEYS") or "1000")
local headers = { ["Content-Type"] = "application/json" }
local bodies = {}
for i = 0, keys - 1 do
  bodies[i] = string.format('{"key":"%s"}', base64(string.format("bench-%010d", i)))
end
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("POST", "/v3/kv/range", headers, bodies[counter % keys])
end
