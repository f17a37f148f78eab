-- wrk script for bench/checkpoint_bench.py: prints one machine-readable line
--   WRK_JSON {"requests": N, "duration_us": D, ..., "latency_us": {"p50": ...}}
-- after the run, so the driver does not parse wrk's human-readable summary.
-- On its own it is the GET script: wrk requests the URL it is given (a sealed
-- state key), one static request, as cheap for the client as wrk gets.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
