"""The sidecar's HTTP API as tests use it: a call, a metric's value, and
waiting for a condition."""

import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def call(sidecar, method, path, body=None):
    """(status, body bytes); `body`: bytes, or str sent as UTF-8."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(sidecar.url(path), data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metric(sidecar, name):
    """The sum of the samples named `name` on /metrics (parsed, not
    string-matched); 0 when it has none yet."""
    _, raw = call(sidecar, "GET", "/metrics")
    total = 0
    for family in text_string_to_metric_families(raw.decode()):
        for s in family.samples:
            if s.name == name:
                total += s.value
    return total


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
