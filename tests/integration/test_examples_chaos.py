"""The word-count examples in other clients (issue 7) under kill -9:
examples/wordcount-kafka-python (kafka-python), examples/wordcount-kafkajs
(kafkajs) and examples/wordcount-cpp (librdkafka's C++ API), each a plain
consumer changed only in its bootstrap address and PUT-state-then-commit,
count 4,000 messages through the sidecar while the application, the sidecar
or both are killed with SIGKILL 5 times at random. The
final counts must be exact, and so must the state restored after one more
sidecar crash at the end, and every checkpoint's state must agree with its
offsets.

The chaos run is examples/demo-exactly-once's `run`, loaded from there, so the
demo is tested too. It is test_wordcount_chaos.py's loop, smaller: seeded,
each kill after a random 200-400 delivered messages, restarts on the same ports
and data; each case takes 25-35 s. TIDEMARK_CHAOS_SEED=N replays a run's
choices (not its timing). The logs of every application and sidecar run and a
timeline go to tmp_path/logs.

kafka-python never asks its bootstrap address again once it knows the broker
listeners (proxy.broker_port_base + node id): it recovers from a restart of
the sidecar alone only because the sidecar opens every broker's listener as it
starts; the kills include that case.

kafkajs comes from scripts/setup-node-clients (or TIDEMARK_NODE_MODULES, as in
test_client_matrix.py); its case is skipped only if that finds no kafkajs.
The cpp case runs the binary tidemark-wordcount-cpp from TIDEMARK_BUILD_DIR (or
TIDEMARK_WORDCOUNT_CPP, see examples/wordcount-cpp/README.md); it is skipped
only if that binary is missing.
"""

import importlib.machinery
import importlib.util
import os
import random
import subprocess

import pytest

from harness.tidemark import REPO

MESSAGES = 4000
KILLS = 5


def load_demo():
    loader = importlib.machinery.SourceFileLoader("demo_exactly_once",
                                                  str(REPO / "examples" / "demo-exactly-once"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


demo = load_demo()


def seed():
    value = int(os.environ.get("TIDEMARK_CHAOS_SEED", random.SystemRandom().randrange(2**31)))
    print(f"chaos seed {value} (replay: TIDEMARK_CHAOS_SEED={value})")
    return value


def require_kafkajs():
    try:
        demo.node_modules()
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", None) or e
        pytest.skip(f"kafkajs not found (scripts/setup-node-clients: {str(detail)[-300:]})")


def require_wordcount_cpp():
    try:
        demo.EXAMPLES["cpp"].env()
    except FileNotFoundError as e:
        pytest.skip(f"the C++ example is not built: {e}")


@pytest.mark.parametrize("example", ["kafka-python", "kafkajs", "cpp"])
def test_word_counts_should_be_exact_when_the_example_and_sidecar_are_killed_at_random(
        example, tmp_path):
    if example == "kafkajs":
        require_kafkajs()
    if example == "cpp":
        require_wordcount_cpp()
    kinds = demo.EXAMPLES[example].kinds  # the application, the sidecar, or both
    result = demo.run(example, tmp_path, MESSAGES, KILLS, seed(), kinds=kinds,
                      batch=demo.EXAMPLES[example].batch)  # 100; cpp: 10, as it is fast
    print("summary:", result.summary())

    context = (f"{result.summary()}\ncheckpoints whose state and offsets disagree (id, trigger, "
               f"words, offsets): {result.bad_checkpoints}\n{demo.report(result)}\ntimeline:\n"
               + "\n".join(result.timeline))
    assert len(result.kills) == KILLS, context  # the application did not finish early
    assert sum(result.counts.values()) == MESSAGES, context
    assert result.counts == result.expected, context
    assert result.restored == result.expected, context
    assert result.restored_offsets == result.ends, context
    assert result.bad_checkpoints == [], context  # guarantee 1 of docs/semantics.md
