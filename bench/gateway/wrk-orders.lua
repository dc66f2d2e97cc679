-- wrk script for bench/gateway/throughput.ts --client wrk: POSTs order intents (the same JSON
-- the node client sends) and counts answers by status per thread.
--   env WRK_MODE=new: unique intents (strategy_id bench-wrk-<thread>-<n>)
--   env WRK_MODE=dup: intents bench-<n % WRK_KNOWN> created by the node warm-up phase
--   env WRK_SIDE=alternate: buys and sells alternate per round of symbols (positions stay small,
--   as the risk limits need); otherwise market sells
local symbols = { "AAPL", "MSFT", "SPY", "QQQ" }
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  mode = os.getenv("WRK_MODE") or "new"
  known = tonumber(os.getenv("WRK_KNOWN") or "1")
  nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  alternate = os.getenv("WRK_SIDE") == "alternate"
  n = 0
  counts = {}
end

function request()
  local i, strategy
  if mode == "dup" then
    i = (n * nthreads + tid) % known
    strategy = "bench-" .. i
  else
    i = n
    strategy = "bench-wrk-" .. tid .. "-" .. n
  end
  n = n + 1
  local side = "sell"
  if alternate and math.floor(i / 4) % 2 == 0 then side = "buy" end
  local body = string.format('{"strategy_id":"%s","symbol":"%s","side":"%s","qty":"1","order_type":"market"}', strategy, symbols[(i % 4) + 1], side)
  return wrk.format("POST", "/api/v1/orders", { ["content-type"] = "application/json" }, body)
end

function response(status)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%d":%d', k, v)) end
  io.write(string.format('WRK_RESULT {"seconds":%.3f,"statuses":{%s},"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.duration / 1e6, table.concat(parts, ","), latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
