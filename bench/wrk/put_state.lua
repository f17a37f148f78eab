-- wrk script for bench/checkpoint_bench.py: PUT /v1/state/bench/put/<thread>/<n>
-- with a 1 KiB body over keep-alive connections. Each wrk thread cycles over
-- its own 1,024 keys (different keys, but a bounded staged set, so the
-- sidecar's memory does not grow with the run). The body is the same every
-- time; the sidecar hashes and stages each PUT regardless.
--
-- Requests are formatted once, in init(): wrk shares the CPUs with the
-- sidecar, so the client should spend as little of them as it can.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")  -- done(): the WRK_JSON line

local KEYS = 1024
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests = {}
local next_key = 0

function init(args)
  local body = string.rep("x", 1024)
  local headers = {["Content-Type"] = "application/octet-stream"}
  for i = 0, KEYS - 1 do
    requests[i] = wrk.format("PUT", string.format("/v1/state/bench/put/%d/%d", id, i), headers,
                             body)
  end
end

function request()
  local r = requests[next_key]
  next_key = (next_key + 1) % KEYS
  return r
end
