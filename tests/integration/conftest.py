import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from harness.tidemark import GENERATIONS, EmbeddedKafka, Sidecar  # noqa: E402


@pytest.fixture(params=GENERATIONS)
def generation(request):
    """Runs the test once per protocol generation of the embedded cluster."""
    return request.param


@pytest.fixture
def kafka(generation):
    """A 3-broker embedded cluster with topic demo (6 partitions)."""
    cluster = EmbeddedKafka(generation, brokers=3, topics=("demo:6",))
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster():
    """One 3-broker cluster on Debian's librdkafka, for tests about the sidecar itself."""
    c = EmbeddedKafka("debian", brokers=3, topics=("demo:6",))
    yield c
    c.stop()


@pytest.fixture
def sidecar_factory(tmp_path):
    """Starts `tidemark serve` against a cluster: sidecar_factory(kafka, settings={...})."""
    started = []

    def start(cluster, settings=None, name="sidecar"):
        s = Sidecar(tmp_path / name, cluster.bootstrap, settings)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
