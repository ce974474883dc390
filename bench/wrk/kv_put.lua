-- PUT /v1/kv/bench-NNNNNNNNNN with a new 32-character string value each time,
-- so that every request is a real write (a PUT of the same value changes nothing).
-- TOKEN (env), when set, goes with each request as Authorization: Bearer TOKEN.
local keys = tonumber(os.getenv("KEYS") or "1000")
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
if os.getenv("TOKEN") then
  headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
end

request = function()
  counter = counter + 1
  local body = string.format('{"value":"value-%026d"}', counter)
  return wrk.format("PUT", string.format("/v1/kv/bench-%010d", counter % keys), headers, body)
end
