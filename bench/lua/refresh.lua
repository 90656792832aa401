-- Exchange a refresh token for a new pair, each wrk thread (one connection each) with its own
-- session from BENCH_TOKENS (one refresh token per line), always sending the token it got last.
local tokens, threads = {}, {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end

setup = function(thread)
  threads[#threads + 1] = thread
  thread:set("token", tokens[#threads])
end

request = function()
  return wrk.format("POST", "/api/v1/auth/refresh", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

response = function(status, headers, body)
  token = body:match('"refresh_token":"([^"]+)"') or token
end
