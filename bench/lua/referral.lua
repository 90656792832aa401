-- POST a referral as a partner system would, each with its own Idempotency-Key and external id.
local body = io.open(os.getenv("BENCH_BODY")):read("*a")
local prefix = os.getenv("BENCH_PREFIX") or "bench"
local threads = {}

setup = function(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

local n = 0
request = function()
  n = n + 1
  local key = prefix .. "-" .. tid .. "-" .. n
  -- wrk.format puts the headers given in place of wrk.headers (the -H options): keep those.
  local headers = { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }
  for k, v in pairs(wrk.headers) do headers[k] = headers[k] or v end
  return wrk.format("POST", "/api/v1/referrals", headers, (body:gsub("EXTERNAL_ID", key)))
end
