"""Fixtures of the Python client's tests.

The client package (clients/python/src) and the integration harness
(tests/harness) are imported from this checkout: ctest puts both on
PYTHONPATH (clients/python/CMakeLists.txt), and this file adds them too, so a
plain `pytest clients/python/tests` works as well. The binaries come from
TIDEMARK_BUILD_DIR (default: build/).

One embedded cluster serves the whole session; the conformance cases share
one sidecar (configured from tests/conformance/cases.json), the rebalance
helper tests get one of their own.
"""

import json
import pathlib
import sys

import pytest

PYTHON_CLIENT = pathlib.Path(__file__).resolve().parents[1]
REPO = PYTHON_CLIENT.parents[1]
for path in (PYTHON_CLIENT / "src", REPO / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from harness.tidemark import EmbeddedKafka, Sidecar  # noqa: E402

CASES_FILE = REPO / "tests" / "conformance" / "cases.json"


def load_conformance():
    return json.loads(CASES_FILE.read_text())


@pytest.fixture(scope="session")
def cluster():
    """One single-broker embedded cluster (Debian's librdkafka) with topic demo (6 partitions)."""
    c = EmbeddedKafka("debian", brokers=1, topics=("demo:6",))
    yield c
    c.stop()


@pytest.fixture(scope="session")
def conformance_sidecar(cluster, tmp_path_factory):
    """The sidecar every conformance case runs against: cases.json's settings,
    and http.token_file holding its token. Yields (sidecar, token file path, token)."""
    doc = load_conformance()
    workdir = tmp_path_factory.mktemp("conformance")
    token = doc["sidecar"]["token"]
    token_file = workdir / "token"
    token_file.write_text(token + "\n")
    settings = dict(doc["sidecar"]["settings"])
    settings["http.token_file"] = str(token_file)
    sidecar = Sidecar(workdir / "sidecar", cluster.bootstrap, settings)
    yield sidecar, token_file, token
    sidecar.stop()


@pytest.fixture(scope="module")
def sidecar(cluster, tmp_path_factory):
    """A sidecar without a token, checkpoints only on request, values up to 1MiB."""
    s = Sidecar(tmp_path_factory.mktemp("sidecar"), cluster.bootstrap,
                {"checkpoint.interval": "24h", "checkpoint.max_messages": "0",
                 "http.max_blob_bytes": "1MiB"})
    yield s
    s.stop()
