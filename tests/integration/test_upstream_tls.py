"""TLS to upstream: the sidecar encrypts its connections to the brokers and
verifies their certificates, while the application stays on plaintext
loopback. A TLS terminator (socat) in front of the embedded cluster stands in
for a TLS listener; the metadata exchange runs over the bootstrap connection
through it."""

import json
import subprocess

import pytest

from harness.tidemark import EmbeddedKafka, _LineReader, client_env, free_port


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)
    return folder / f"{name}.pem"


@pytest.fixture
def tls_upstream(tmp_path):
    """A 1-broker cluster behind a TLS terminator whose certificate is for 127.0.0.1."""
    make_ca(tmp_path, "ca")
    (tmp_path / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=broker", "-keyout", "server.key",
            "-out", "server.csr", cwd=tmp_path)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem",
            cwd=tmp_path)
    cluster = EmbeddedKafka("debian", brokers=1, topics=("demo:2",))
    port = free_port()
    broker = cluster.bootstrap.split(",")[0]
    terminator = subprocess.Popen(
        ["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={tmp_path}/server.pem,"
         f"key={tmp_path}/server.key,verify=0", f"TCP:{broker}"],
        stderr=subprocess.PIPE, text=True)
    _LineReader(terminator.stderr)
    yield {"bootstrap": f"127.0.0.1:{port}", "ca": tmp_path / "ca.pem", "dir": tmp_path}
    terminator.kill()
    terminator.wait()
    cluster.stop()


class Upstream:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap


def kcat_metadata(bootstrap):
    return subprocess.run(["kcat", "-L", "-J", "-m", "5", "-b", bootstrap], capture_output=True,
                          text=True, timeout=60, env=client_env("debian"))


def test_should_fetch_metadata_over_tls_with_a_verified_certificate(tls_upstream, sidecar_factory):
    sidecar = sidecar_factory(Upstream(tls_upstream["bootstrap"]), settings={
        "proxy.upstream.tls.enabled": "true",
        "proxy.upstream.tls.ca_file": str(tls_upstream["ca"]),
    })
    out = kcat_metadata(sidecar.fields["proxy"])
    assert out.returncode == 0, out.stderr
    meta = json.loads(out.stdout)
    assert [t["topic"] for t in meta["topics"]] == ["demo"]
    # The one broker is advertised on the sidecar's listener, never upstream.
    assert all(b["name"].startswith("127.0.0.1:") and not b["name"].endswith(
        tls_upstream["bootstrap"].split(":")[1]) for b in meta["brokers"])


def test_should_refuse_a_broker_certificate_from_an_unknown_ca(tls_upstream, sidecar_factory):
    other_ca = make_ca(tls_upstream["dir"], "other")
    sidecar = sidecar_factory(Upstream(tls_upstream["bootstrap"]), settings={
        "proxy.upstream.tls.enabled": "true",
        "proxy.upstream.tls.ca_file": str(other_ca),
    })
    assert kcat_metadata(sidecar.fields["proxy"]).returncode != 0
    assert any("certificate verify failed" in l for l in sidecar.log.lines), "\n".join(sidecar.log.lines)


def test_should_refuse_to_start_with_an_unreadable_ca_file(tmp_path):
    from harness.tidemark import Sidecar
    with pytest.raises(EOFError):
        Sidecar(tmp_path, "127.0.0.1:9", {"proxy.upstream.tls.enabled": "true",
                                          "proxy.upstream.tls.ca_file": str(tmp_path / "none.pem")})
