-- wrk script for bench/run.sh: POST a ~1 KB OpenAI chat-completions request
-- (system + user message, bench/payloads/chat-request.json) on every request.
--
-- Env: BENCH_MODEL   replaces the "model" field (default: as in the payload, gpt-4o-mini)
--      BENCH_STREAM=1 adds "stream": true
--
-- No per-request Lua callback (request/response) is defined, so wrk stays in C for
-- every request. done() prints one line "WRKJSON {...}" with exact latency
-- percentiles in microseconds, which bench/run.sh parses.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local f = assert(io.open(here .. "payloads/chat-request.json", "r"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()

local model = os.getenv("BENCH_MODEL")
if model and model ~= "" then
  body = body:gsub('"model":"[^"]*"', '"model":"' .. model .. '"', 1)
end
if os.getenv("BENCH_STREAM") == "1" then
  body = body:gsub("}$", ',"stream":true}')
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0000000000000000000000000000000000000000"
wrk.headers["User-Agent"] = "sluice-bench/wrk"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"body_bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_stdev_us":%.1f,"lat_min_us":%d,"lat_max_us":%d,' ..
    '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, #wrk.body,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
