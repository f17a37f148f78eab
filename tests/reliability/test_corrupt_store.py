"""A damaged local store at start (issue 10: "corrupt SQLite file at start →
refuses with a clear message or restores from the remote; never serves wrong
state"). The sidecar refuses to serve a store it cannot trust: it exits 1
with one line saying what is wrong and never opens its ports. Choosing the
remote over a damaged local store is the operator's call, not the sidecar's
(the damage may be the disk's, and the remote may be older): moving the file
away is enough, and the next start restores from the remote. The store-level
cases (a damaged checkpoint table, an unknown format version) are in
tests/store/sqlite_checkpoint_store_test.cc."""

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


def test_should_refuse_a_store_whose_state_changed_on_disk_and_restore_from_the_remote_once_moved(
        cluster, nodes):
    """The newest checkpoint's blob is overwritten in place with other bytes
    of the same size (what a bad sector or a stray write leaves; SQLite's own
    structure stays valid). The restore verifies every blob against its
    SHA-256: the sidecar refuses, naming the checkpoint and the blob, rather
    than serve "v9". With the damaged file moved away, the next start
    restores v1 from the remote."""
    node = nodes(cluster, REMOTE)
    node.start()
    node_checkpoint(node, "v1", 1)
    wait_until(lambda: metric_value(node.http, "tidemark_remote_uploads_total") >= 1, 30,
               "the upload")
    node.kill()
    with sqlite3.connect(node.db) as db:
        changed = db.execute("UPDATE blobs SET data = ? WHERE data = ?", (b"v9", b"v1")).rowcount
    assert changed == 1
    line = refusal(serve(node))
    assert f"store.path {node.db} is damaged and is never served" in line, line
    assert "restoring checkpoint" in line and "does not match its hash" in line, line
    moved = node.db.with_name("damaged.db")
    node.db.rename(moved)
    for f in store_files(node)[1:]:
        f.unlink(missing_ok=True)
    node.start()
    assert call(node.http, "GET", "/v1/state/model") == (200, b"v1")
