"""The remote checkpoint topic becomes unavailable (every broker of the
cluster down), combined with kill -9 and restarts of the sidecar. The plain
outage-and-catch-up case and sync mode's 504 are in
tests/integration/test_remote.py; these add the kill, the start during the
outage, and readiness."""

import json
import time


from conftest import (call, checkpoint_list, metric_value, node_checkpoint, wait_not_ready,
                      wait_ready, wait_until)

REMOTE = {"remote.mode": "async", "remote.kafka.timeout": "5s", "job.instance_id": "pod-0"}


def uploads(node):
    return metric_value(node.http, "tidemark_remote_uploads_total")


def outbox(node):
    return metric_value(node.http, "tidemark_remote_outbox_checkpoints")


def test_should_upload_the_outbox_after_a_kill_during_a_remote_outage(cluster, nodes):
    """Async mode: checkpoint v1 reaches the remote; every broker goes down;
    v2..v4 are acknowledged locally; the sidecar is killed with SIGKILL and
    restarted while the remote is still down; then the brokers come back.
    Fails if a local checkpoint is refused during the outage (async
    checkpoints never wait for the remote), the sidecar cannot start while
    the cluster is down or does not then report /readyz 503 naming the
    `upstream` check, restores anything but v4 after the kill, is not ready
    again once the brokers are back, loses the outbox in the kill (the
    remote never gets v4), or a new node on an empty disk restores anything
    but v4 (state and offsets) from the remote."""
    a = nodes(cluster, REMOTE, name="node-a")
    a.start()
    node_checkpoint(a, "v1", 1)
    wait_until(lambda: uploads(a) >= 1, 30, "the first upload")
    cluster.all_down()
    for i in (2, 3, 4):
        node_checkpoint(a, f"v{i}", i)
    a.kill()
    started = time.time()
    a.start(ready_timeout=120)  # the remote is still down: the local store is enough
    print(f"started during the outage in {time.time() - started:.1f}s")
    # Not ready while the cluster refuses connections, and saying so.
    body = wait_not_ready(a.http, "upstream", 60)
    assert body["checks"]["upstream"].startswith("upstream unreachable"), body
    assert call(a.http, "GET", "/v1/state/model") == (200, b"v4")
    assert outbox(a) >= 1
    cluster.all_up()
    wait_ready(a.http, 60)
    wait_until(lambda: outbox(a) == 0, 90, "the outbox to drain after the outage")
    a.kill()
    b = nodes(cluster, REMOTE, name="node-b")  # an empty disk, the same instance id
    b.start()
    assert call(b.http, "GET", "/v1/state/model") == (200, b"v4")
    latest = json.loads(call(b.http, "GET", f"/v1/checkpoints/{checkpoint_list(b.http)[0]['id']}")[1])
    assert [(o["group"], o["partition"], o["offset"]) for o in latest["offsets"]] == [("g", 1, 4)]


def test_should_turn_not_ready_while_a_sync_remote_is_unavailable_and_recover(cluster, nodes):
    """Sync mode with checkpoint.tolerable_failures 1: every broker goes
    down and checkpoints keep being asked for. Fails if a checkpoint is
    answered 201 while the remote cannot have it, or not answered (503 or
    504) within checkpoint.timeout, if /readyz does not turn
    503 naming the `checkpoints` check, if it does not turn 200 again by
    itself once the brokers are back (the retries succeed), or if the state
    restored after a kill -9 is not the last checkpoint acknowledged or a
    later one that agrees with its offsets."""
    settings = {**REMOTE, "remote.mode": "sync", "checkpoint.timeout": "2s",
                "checkpoint.tolerable_failures": "1"}
    a = nodes(cluster, settings, name="node-a")
    a.start()
    node_checkpoint(a, "v1", 1)
    cluster.all_down()
    assert call(a.http, "PUT", "/v1/state/model", "v2")[0] == 204
    offsets = [{"group": "g", "topic": "demo", "partition": 1, "offset": 2}]
    assert call(a.http, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
    for _ in range(3):
        # Each request is answered within checkpoint.timeout (2 s), with margin.
        status, raw = call(a.http, "POST", "/v1/checkpoints", timeout=15)
        assert status in (503, 504), raw
        assert json.loads(raw)["error"]["code"] in ("unavailable", "checkpoint_timeout"), raw
    body = wait_not_ready(a.http, "checkpoints", 30)
    print("not ready:", body)
    cluster.all_up()
    wait_ready(a.http, 90)
    node_checkpoint(a, "v3", 3)
    a.kill()
    a.start()
    assert call(a.http, "GET", "/v1/state/model") == (200, b"v3")
