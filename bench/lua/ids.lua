-- GET the path in BENCH_PATH with "{id}" replaced by an id drawn at random from the file in
-- BENCH_IDS (one per line), so the reads spread over many records as a caseload's would.
local ids, path = {}, os.getenv("BENCH_PATH")
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
math.randomseed(os.time())

request = function()
  return wrk.format("GET", (path:gsub("{id}", ids[math.random(#ids)])))
end
