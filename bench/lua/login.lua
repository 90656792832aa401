-- Sign in, each wrk thread (one connection each) as its own account (one password check at a time
-- per account is the service's rule): case_worker<N>@bench.haki.test with BENCH_PASSWORD.
local password = os.getenv("BENCH_PASSWORD")
local threads = {}

setup = function(thread)
  threads[#threads + 1] = thread
  thread:set("n", #threads)
end

request = function()
  return wrk.format("POST", "/api/v1/auth/login", { ["Content-Type"] = "application/json" },
    '{"email":"case_worker' .. n .. '@bench.haki.test","password":"' .. password .. '"}')
end
