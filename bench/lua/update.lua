-- PATCH a case with If-Match, each wrk thread (one connection each) on its own case from
-- BENCH_IDS: the first request reads the case's ETag, every later one sends the ETag the last
-- answer carried, as a client that edits what it last saw.
local ids, threads = {}, {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end

setup = function(thread)
  threads[#threads + 1] = thread
  thread:set("case", ids[#threads])
end

local etag
local levels = { "low", "medium", "high", "critical" }
local n = 0

request = function()
  if not etag then
    return wrk.format("GET", "/api/v1/cases/" .. case)
  end
  n = n + 1
  -- wrk.format puts the headers given in place of wrk.headers (the -H options): keep those.
  local headers = { ["Content-Type"] = "application/json", ["If-Match"] = etag }
  for k, v in pairs(wrk.headers) do headers[k] = headers[k] or v end
  return wrk.format("PATCH", "/api/v1/cases/" .. case, headers, '{"risk_level":"' .. levels[n % 4 + 1] .. '"}')
end

response = function(status, headers, body)
  etag = headers["etag"] or headers["ETag"]
end
