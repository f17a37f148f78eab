"""A damaged local store (issue 10: "corrupt SQLite file at start → refuses
with a clear message or restores from the remote; never serves wrong state").
A store whose structure is damaged is refused at start: the sidecar exits 1
with one line saying what is wrong and never opens its ports. State bytes
changed on disk are found when read (the restore reads only the index), and
never served: the read fails naming the damage. Choosing the remote over a
damaged local store is the operator's call, not the sidecar's (the damage may
be the disk's, and the remote may be older): moving the file away is enough,
and the next start restores from the remote. The store-level cases (a damaged
checkpoint table, an unknown format version) are in
tests/store/sqlite_checkpoint_store_test.cc."""

import json
import sqlite3
import subprocess

from conftest import call, metric_value, node_checkpoint, wait_until
from harness.tidemark import binary

REMOTE = {"remote.mode": "async", "remote.kafka.timeout": "5s", "job.instance_id": "pod-0"}


def serve(node):
    """Runs `tidemark serve` on the node's last config until it exits (it must)."""
    return subprocess.run([binary(), "serve", "--config", str(node.workdir / "tidemark.yaml")],
                          capture_output=True, text=True, timeout=120, env=node.env)


def store_files(node):
    return [node.db, node.db.with_name(node.db.name + "-wal"),
            node.db.with_name(node.db.name + "-shm")]


def refusal(out):
    """The one line a refusal ends with (asserted to be the last of stderr)."""
    assert out.returncode == 1, (out.returncode, out.stderr[-3000:])
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("tidemark: "), out.stderr[-3000:]
    assert "level=info component=main msg=ready" not in out.stderr
    return last


def test_should_refuse_to_start_on_a_store_that_is_not_a_database(cluster, nodes):
    node = nodes(cluster)
    node.start()
    node_checkpoint(node, "v1", 1)
    node.kill()
    for f in store_files(node):
        f.unlink(missing_ok=True)
    node.db.write_bytes(b"not sqlite at all\n" * 400)
    line = refusal(serve(node))
    assert line == (f"tidemark: store.path {node.db} is damaged and is never served (file is not "
                    "a database): move it away, and the next start restores the newest checkpoint "
                    "from the remote, or starts empty without one"), line


def test_should_never_serve_state_whose_bytes_changed_on_disk_and_restore_from_the_remote_once_moved(
        cluster, nodes):
    """The newest checkpoint's blob is overwritten in place with other bytes
    of the same size (what a bad sector or a stray write leaves; SQLite's own
    structure stays valid). Every read of a blob from the store verifies it
    against its SHA-256: the sidecar starts (the restore reads only the
    index), and a GET of that state answers 500 data_loss naming the blob and
    the runbook, rather than serve "v9"; other state is served. With the
    damaged file moved away, the next start restores v1 from the remote."""
    node = nodes(cluster, REMOTE)
    node.start()
    assert call(node.http, "PUT", "/v1/state/other", "fine")[0] == 204
    node_checkpoint(node, "v1", 1)
    wait_until(lambda: metric_value(node.http, "tidemark_remote_uploads_total") >= 1, 30,
               "the upload")
    node.kill()
    with sqlite3.connect(node.db) as db:
        changed = db.execute("UPDATE blobs SET data = ? WHERE data = ?", (b"v9", b"v1")).rowcount
    assert changed == 1
    node.start()
    status, body = call(node.http, "GET", "/v1/state/model")
    assert status == 500, (status, body)
    error = json.loads(body)["error"]
    assert error["code"] == "data_loss", error
    assert "reading state model from the store" in error["message"], error
    assert "does not match its hash" in error["message"], error
    assert '"A damaged store"' in error["message"], error
    assert call(node.http, "GET", "/v1/state/other") == (200, b"fine")
    assert metric_value(node.http, "tidemark_state_read_failures_total") == 1
    node.kill()
    moved = node.db.with_name("damaged.db")
    node.db.rename(moved)
    for f in store_files(node)[1:]:
        f.unlink(missing_ok=True)
    node.start()
    assert call(node.http, "GET", "/v1/state/model") == (200, b"v1")
