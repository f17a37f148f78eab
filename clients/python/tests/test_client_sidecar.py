"""The client against a real sidecar, beyond the conformance cases."""

import hashlib

import pytest

import tidemark


@pytest.fixture
def client(sidecar):
    with tidemark.Client(f"http://{sidecar.http}") as c:
        yield c


def test_should_raise_payload_too_large_and_stay_usable_when_a_value_is_far_beyond_the_limit(
        client):
    # 20MiB against a 1MiB limit: the sidecar answers 413 from Content-Length
    # and closes rather than read it (beyond 16MiB), while the client still sends.
    with pytest.raises(tidemark.PayloadTooLarge) as raised:
        client.put_state("far_beyond/k", b"x" * (20 << 20))
    assert raised.value.code == "payload_too_large"
    assert client.put_state("far_beyond/after", b"ok")
    assert client.get_state("far_beyond/after", view="staged").value == b"ok"


def test_should_round_trip_binary_values_when_committed_with_offsets(client):
    blob = bytes(range(256)) * 3
    answer = client.commit([{"group": "units", "topic": "demo", "partition": 5, "offset": 1}],
                           put={"units/blob": blob, "units/text": "é"})
    assert answer["partitions"] == 1 and answer["seal"] >= 1
    assert client.get_state("units/blob").value == blob
    assert client.get_state("units/text").value == "é".encode()


def test_should_list_sizes_and_etags_that_match_the_values_when_listing(client):
    etag = client.put_state("units_list/a", b"12345")
    listed = client.list_state(prefix="units_list/", view="staged")
    assert listed == [tidemark.StateInfo("units_list/a", 5, etag)]
    assert etag == '"%s"' % hashlib.sha256(b"12345").hexdigest()
    assert client.list_state(prefix="units_list/") == []  # not sealed yet


def test_should_raise_bad_request_when_view_is_neither_sealed_nor_staged(client):
    with pytest.raises(tidemark.BadRequest) as raised:
        client.get_state("units/k", view="sideways")
    assert raised.value.code == "invalid_argument"


def test_should_raise_not_found_when_a_checkpoint_is_not_retained(client):
    checkpoint_id = client.checkpoint()
    assert client.get_checkpoint(checkpoint_id)["id"] == checkpoint_id
    with pytest.raises(tidemark.NotFound):
        client.get_checkpoint("0")
