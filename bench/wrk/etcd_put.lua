-- etcd's JSON gateway write, POST /v3/kv/put {"key": base64, "value": base64}, with a new
-- 32-byte value each time: the same work as kv_put.lua.
local base64 = dofile(os.getenv("BENCH_DIR") .. "/wrk/base64.lua")
local keys = tonumber(os.getenv("KEYS") or "1000")
local headers = { ["Content-Type"] = "application/json" }
local encoded = {}
for i = 0, keys - 1 do
  encoded[i] = base64(string.format("bench-%010d", i))
end
local counter = 0

request = function()
  counter = counter + 1
  local value = base64(string.format('"value-%026d"', counter))
  local body = string.format('{"key":"%s","value":"%s"}', encoded[counter % keys], value)
  return wrk.format("POST", "/v3/kv/put", headers, body)
end
