"""Transactional producers (exactly-once consume-transform-produce): offsets
sent with send_offsets_to_transaction (TxnOffsetCommit) count as processed only
when the transaction commits, and the commit (EndTxn) reaches the cluster only
after a checkpoint holding them is durable."""

import json
import subprocess
import urllib.request

from harness.tidemark import client_env

MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}

APP = r"""
import json, sys, confluent_kafka as ck
bootstrap = sys.argv[1]
p = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": "tx-app"})
p.init_transactions(30)
c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "g-tx",
                 "enable.auto.commit": False})

def transaction(offset, commit):
    p.begin_transaction()
    p.produce("demo", value=b"out-%d" % offset, partition=0)
    p.send_offsets_to_transaction([ck.TopicPartition("demo", 1, offset)],
                                  c.consumer_group_metadata(), 30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)
    committed = c.committed([ck.TopicPartition("demo", 1)], timeout=15)[0].offset
    print(json.dumps({"offset": offset, "commit": commit, "fetched": committed}), flush=True)

transaction(10, True)
transaction(20, False)
transaction(30, True)
c.close()
"""


def test_transaction_offsets_should_be_sealed_only_when_the_transaction_commits(
        kafka, generation, sidecar_factory, tmp_path):
    sidecar = sidecar_factory(kafka, MANUAL)
    script = tmp_path / "app.py"
    script.write_text(APP)
    out = subprocess.run(["/usr/bin/python3", str(script), sidecar.fields["proxy"]],
                         capture_output=True, text=True, timeout=120, env=client_env(generation))
    assert out.returncode == 0, out.stderr[-2000:]
    steps = [json.loads(l) for l in out.stdout.splitlines()]
    # What the application reads back (OffsetFetch, answered from the sealed view)
    # follows committed transactions only: the aborted one never counts.
    assert [(s["offset"], s["fetched"]) for s in steps] == [(10, 10), (20, 10), (30, 30)]

    # Each commit was held for a checkpoint of its own, durable before EndTxn went on.
    lines = [l for l in sidecar.log.lines if "checkpoint committed" in l]
    assert sum("trigger=transaction" in l for l in lines) == 2, lines
    with urllib.request.urlopen(sidecar.url("/v1/checkpoints"), timeout=10) as r:
        latest = json.loads(r.read())["checkpoints"][0]["id"]
    with urllib.request.urlopen(sidecar.url(f"/v1/checkpoints/{latest}"), timeout=10) as r:
        detail = json.loads(r.read())
    assert [(o["group"], o["topic"], o["partition"], o["offset"]) for o in detail["offsets"]] == [
        ("g-tx", "demo", 1, 30)]
