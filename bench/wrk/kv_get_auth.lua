-- kv_get.lua with a token: GET /v1/kv/bench-NNNNNNNNNN with Authorization: Bearer TOKEN (env).
local keys = tonumber(os.getenv("KEYS") or "1000")
local headers = { ["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "") }
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("/v1/kv/bench-%010d", counter % keys), headers)
end
