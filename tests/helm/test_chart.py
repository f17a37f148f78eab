"""The Helm chart (helm/tidemark, a library of named templates) through the
example application chart that uses it (helm/examples/wordcount).

- `helm lint --strict` and `helm template` over the values files in values/
  (Deployment and StatefulSet, native and classic sidecar, with and without
  persistence, token and monitor), with assertions on the rendered objects
  parsed as YAML;
- values the schema rejects, and the cross-field mistakes the templates
  reject, each with its message;
- the rendered tidemark.yaml accepted by `tidemark config check`, and the
  schema's config part checked field by field against config.proto;
- the rendered container's command, args and config started against the
  embedded Kafka cluster: its probes pass, then SIGTERM exits 0.

Helm comes from scripts/setup-helm (Helm 4 from npm, cached); the binaries
from $TIDEMARK_BUILD_DIR (default: build/).
"""

import base64
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from harness.tidemark import (  # noqa: E402
    REPO, EmbeddedKafka, LineReader, binary, free_port, free_port_range)

HERE = pathlib.Path(__file__).resolve().parent
VALUES = HERE / "values"
MATRIX = sorted(VALUES.glob("*.yaml"))
MATRIX_IDS = [p.stem for p in MATRIX]
CHART = REPO / "helm" / "tidemark"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
SIDECAR_BINARY_IN_IMAGE = "/usr/local/bin/tidemark"


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def helm_env(tmp_path_factory):
    """Helm's own cache and config in a temporary folder, not the user's."""
    home = tmp_path_factory.mktemp("helm-home")
    env = dict(os.environ)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var.lower())
    return env


@pytest.fixture(scope="session")
def helm(helm_env):
    out = subprocess.run([str(REPO / "scripts" / "setup-helm")], check=True,
                         capture_output=True, text=True, timeout=600)
    path = out.stdout.strip().splitlines()[-1]
    return Helm(path, helm_env)


@pytest.fixture(scope="session")
def example(helm, tmp_path_factory):
    """A copy of helm/ whose example chart has its tidemark dependency built."""
    root = tmp_path_factory.mktemp("charts") / "helm"
    shutil.copytree(REPO / "helm", root,
                    ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    chart = root / "examples" / "wordcount"
    helm.run("dependency", "update", "--skip-refresh", str(chart))
    return chart


class Helm:
    def __init__(self, path, env):
        self.path = path
        self.env = env

    def call(self, *args):
        return subprocess.run([self.path, *args], capture_output=True, text=True,
                              timeout=120, env=self.env)

    def run(self, *args):
        out = self.call(*args)
        assert out.returncode == 0, f"helm {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out.stdout


def value_args(values_files=(), sets=(), set_strings=()):
    args = []
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    for s in set_strings:
        args += ["--set-string", s]
    return args


class Rendered:
    """`helm template` output, parsed: the objects, the workload, the sidecar."""

    def __init__(self, text):
        self.objects = [d for d in yaml.safe_load_all(text) if d]

    def all(self, kind):
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind):
        found = self.all(kind)
        assert len(found) == 1, f"expected one {kind}, got {[o['kind'] for o in self.objects]}"
        return found[0]

    @property
    def workload(self):
        found = self.all("Deployment") + self.all("StatefulSet")
        assert len(found) == 1
        return found[0]

    @property
    def pod(self):
        return self.workload["spec"]["template"]["spec"]

    @property
    def init_containers(self):
        return self.pod.get("initContainers") or []

    @property
    def containers(self):
        return self.pod["containers"]

    @property
    def sidecar(self):
        found = [c for c in self.init_containers + self.containers if c["name"] == "tidemark"]
        assert len(found) == 1
        return found[0]

    @property
    def app(self):
        return next(c for c in self.containers if c["name"] == "wordcount")

    @property
    def config_text(self):
        return self.one("ConfigMap")["data"]["tidemark.yaml"]

    @property
    def config(self):
        return yaml.safe_load(self.config_text)

    def volume(self, name):
        found = [v for v in self.pod.get("volumes") or [] if v["name"] == name]
        return found[0] if found else None

    def mount(self, container, name):
        found = [m for m in container.get("volumeMounts") or [] if m["name"] == name]
        return found[0] if found else None


def render(helm, chart, values_files=(), sets=(), set_strings=(), extra=()):
    return Rendered(helm.run("template", "wc", str(chart), *extra,
                             *value_args(values_files, sets, set_strings)))


def render_error(helm, chart, values_files=(), sets=(), set_strings=(), extra=()):
    out = helm.call("template", "wc", str(chart), *extra,
                    *value_args(values_files, sets, set_strings))
    assert out.returncode != 0, f"rendered although it should not:\n{out.stdout[:2000]}"
    return out.stderr


def tidemark_values(values_file):
    return (yaml.safe_load(values_file.read_text()) or {}).get("tidemark", {})


def duration_seconds(text):
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ns|us|ms|s|m|h)", text))


def parse_probe_script_port(probe):
    return int(re.search(r"/dev/tcp/127\.0\.0\.1/(\d+)", probe["exec"]["command"][2]).group(1))


# ---------------------------------------------------------------- lint and matrix


def test_should_pass_helm_lint_strict_when_linting_the_library_chart(helm):
    out = helm.run("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_pass_helm_lint_strict_when_linting_the_example_with_each_values_file(
        helm, example, values_file):
    out = helm.run("lint", "--strict", str(example), "-f", str(values_file))
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_render_a_deployment_or_statefulset_when_workload_kind_says_so(
        helm, example, values_file):
    kind = yaml.safe_load(values_file.read_text())["workload"]["kind"]
    r = render(helm, example, [values_file])
    assert r.workload["kind"] == kind
    if kind == "StatefulSet":
        service = r.all("Service")[0]
        assert r.workload["spec"]["serviceName"] == service["metadata"]["name"]
    else:
        assert r.workload["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_place_the_sidecar_in_init_containers_when_native_and_in_containers_when_classic(
        helm, example, values_file):
    native = tidemark_values(values_file).get("nativeSidecar", True)
    r = render(helm, example, [values_file])
    if native:
        assert [c["name"] for c in r.init_containers] == ["tidemark"]
        assert r.sidecar["restartPolicy"] == "Always"
        assert [c["name"] for c in r.containers] == ["wordcount"]
        assert "lifecycle" not in r.sidecar  # Kubernetes stops it after the application
    else:
        assert r.init_containers == []
        assert [c["name"] for c in r.containers] == ["wordcount", "tidemark"]
        assert "restartPolicy" not in r.sidecar
        app_seconds = tidemark_values(values_file).get("termination", {}).get(
            "applicationSeconds", 5)
        # The preStop sleep holds the sidecar's SIGTERM back while the application stops.
        assert r.sidecar["lifecycle"]["preStop"]["exec"]["command"] == [
            "/bin/sleep", str(app_seconds)]


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_run_serve_with_the_mounted_config_when_rendered(helm, example, values_file):
    r = render(helm, example, [values_file])
    c = r.sidecar
    extra = tidemark_values(values_file).get("extraArgs", [])
    assert c["command"] == [SIDECAR_BINARY_IN_IMAGE]
    assert c["args"] == ["serve", "--config", "/etc/tidemark/tidemark.yaml", *extra]
    assert r.mount(c, "tidemark-config") == {
        "name": "tidemark-config", "mountPath": "/etc/tidemark", "readOnly": True}
    config_map = r.one("ConfigMap")["metadata"]["name"]
    assert r.volume("tidemark-config")["configMap"]["name"] == config_map


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_store_on_a_claim_template_existing_claim_or_empty_dir_when_persistence_says_so(
        helm, example, values_file):
    p = tidemark_values(values_file).get("persistence", {})
    r = render(helm, example, [values_file])
    mount = r.mount(r.sidecar, "tidemark-data")
    assert r.config["store"]["path"] == mount["mountPath"] + "/tidemark.db"
    claims = r.workload["spec"].get("volumeClaimTemplates") or []
    if p.get("enabled") and not p.get("existingClaim"):
        assert r.workload["kind"] == "StatefulSet"
        assert r.volume("tidemark-data") is None
        assert [c["metadata"]["name"] for c in claims] == ["tidemark-data"]
        spec = claims[0]["spec"]
        assert spec["accessModes"] == ["ReadWriteOnce"]
        assert spec["resources"]["requests"]["storage"] == p.get("size", "1Gi")
        if p.get("storageClassName"):
            assert spec["storageClassName"] == p["storageClassName"]
        else:
            assert "storageClassName" not in spec
    elif p.get("existingClaim"):
        assert claims == []
        assert r.volume("tidemark-data")["persistentVolumeClaim"] == {
            "claimName": p["existingClaim"]}
    else:
        assert claims == []
        empty_dir = r.volume("tidemark-data")["emptyDir"]
        if p.get("emptyDirSizeLimit"):
            assert empty_dir == {"sizeLimit": p["emptyDirSizeLimit"]}
        else:
            assert empty_dir == {}


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_harden_the_sidecar_when_rendered_in_any_form(helm, example, values_file):
    r = render(helm, example, [values_file])
    sc = r.sidecar["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    # The writable places a read-only root needs: the store and /tmp (SQLite's temp files).
    assert r.mount(r.sidecar, "tidemark-tmp")["mountPath"] == "/tmp"
    assert r.volume("tidemark-tmp") == {"name": "tidemark-tmp", "emptyDir": {}}
    assert r.pod["securityContext"]["fsGroup"] == sc["runAsGroup"]
    assert r.sidecar["resources"]["requests"] and r.sidecar["resources"]["limits"]["memory"]


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_give_the_pod_more_grace_than_application_plus_shutdown_timeout_when_rendered(
        helm, example, values_file):
    t = tidemark_values(values_file)
    r = render(helm, example, [values_file])
    grace = r.pod["terminationGracePeriodSeconds"]
    timeout = duration_seconds(t.get("config", {}).get("shutdown", {}).get("timeout", "25s"))
    app = t.get("termination", {}).get("applicationSeconds", 5)
    assert grace > app + timeout
    if "gracePeriodSeconds" in t.get("termination", {}):
        assert grace == t["termination"]["gracePeriodSeconds"]
    else:
        assert grace == app + timeout + 5


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_probe_healthz_and_readyz_on_the_api_port_when_rendered(helm, example, values_file):
    t = tidemark_values(values_file)
    exposed = t.get("api", {}).get("expose", False)
    port = t.get("api", {}).get("port", 8770)
    r = render(helm, example, [values_file])
    c = r.sidecar
    paths = {"startupProbe": "/readyz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in paths.items():
        if exposed:
            assert c[probe]["httpGet"] == {"path": path, "port": port}
        else:
            command = c[probe]["exec"]["command"]
            assert command[:2] == ["/bin/bash", "-c"] and command[-1] == path
            assert parse_probe_script_port(c[probe]) == port
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 300


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_keep_the_api_on_loopback_unless_exposed_and_then_only_with_a_token(
        helm, example, values_file):
    t = tidemark_values(values_file)
    api = t.get("api", {})
    r = render(helm, example, [values_file])
    http = r.config["http"]
    port = api.get("port", 8770)
    if api.get("expose"):
        assert http["listen"] == f"0.0.0.0:{port}"
        assert http["token_file"]
        assert r.sidecar["ports"] == [
            {"name": "tidemark-http", "containerPort": port, "protocol": "TCP"}]
    else:
        assert http["listen"] == f"127.0.0.1:{port}"
        assert "ports" not in r.sidecar


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_mount_the_token_secret_as_a_directory_in_sidecar_and_app_when_a_token_is_set(
        helm, example, values_file):
    token = tidemark_values(values_file).get("token", {})
    key = token.get("key", "token")
    r = render(helm, example, [values_file])
    env = {e["name"]: e.get("value") for e in r.app["env"]}
    if not (token.get("existingSecret") or token.get("create")):
        assert "token_file" not in r.config["http"]
        assert r.volume("tidemark-token") is None
        assert "TIDEMARK_TOKEN_FILE" not in env
        return
    secret_name = token.get("existingSecret") or "wc-tidemark-token"
    assert r.volume("tidemark-token")["secret"] == {
        "secretName": secret_name, "items": [{"key": key, "path": key}]}
    for container in (r.sidecar, r.app):
        mount = r.mount(container, "tidemark-token")
        # A directory mount, not subPath: a rotated Secret reaches the file.
        assert mount == {"name": "tidemark-token", "mountPath": "/var/run/secrets/tidemark",
                         "readOnly": True}
    assert r.config["http"]["token_file"] == f"/var/run/secrets/tidemark/{key}"
    assert env["TIDEMARK_TOKEN_FILE"] == r.config["http"]["token_file"]
    secrets = r.all("Secret")
    if token.get("create"):
        assert [s["metadata"]["name"] for s in secrets] == [secret_name]
        value = base64.b64decode(secrets[0]["data"][key]).decode()
        assert re.fullmatch(r"[A-Za-z0-9]{48}", value)
        assert secrets[0]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    else:
        assert secrets == []  # the existing Secret is the user's


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_render_a_pod_or_service_monitor_with_bearer_auth_when_the_monitor_is_enabled(
        helm, example, values_file):
    t = tidemark_values(values_file)
    m = t.get("monitor", {})
    r = render(helm, example, [values_file])
    monitors = r.all("PodMonitor") + r.all("ServiceMonitor")
    if not m.get("enabled"):
        assert monitors == []
        return
    (monitor,) = monitors
    assert monitor["kind"] == m["kind"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    pod_labels = r.workload["spec"]["template"]["metadata"]["labels"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    endpoints = monitor["spec"]["podMetricsEndpoints" if m["kind"] == "PodMonitor" else "endpoints"]
    (endpoint,) = endpoints
    assert endpoint["port"] == "tidemark-http" and endpoint["path"] == "/metrics"
    assert endpoint["interval"] == m.get("interval", "30s")
    secret = t["token"].get("existingSecret") or "wc-tidemark-token"
    assert endpoint["authorization"] == {
        "type": "Bearer", "credentials": {"name": secret, "key": t["token"].get("key", "token")}}
    for k, v in m.get("labels", {}).items():
        assert monitor["metadata"]["labels"][k] == v
    if m["kind"] == "PodMonitor":
        assert selector.items() <= pod_labels.items()
    else:
        service = next(s for s in r.all("Service")
                       if s["metadata"]["name"] == "wc-tidemark-metrics")
        assert selector.items() <= service["metadata"]["labels"].items()
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert service["spec"]["ports"][0]["targetPort"] == r.sidecar["ports"][0]["containerPort"]
        assert endpoint["scrapeTimeout"] == m["scrapeTimeout"]


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_tell_the_application_where_the_sidecar_is_when_rendered(
        helm, example, values_file):
    r = render(helm, example, [values_file])
    env = {e["name"]: e.get("value") for e in r.app["env"]}
    proxy_listen = r.config["proxy"].get("listen", "127.0.0.1:19092")
    assert env["TIDEMARK_BOOTSTRAP_SERVERS"] == proxy_listen
    assert env["TIDEMARK_URL"] == "http://127.0.0.1:" + r.config["http"]["listen"].split(":")[-1]
    assert r.app["args"][:2] == ["--bootstrap", "$(TIDEMARK_BOOTSTRAP_SERVERS)"]


@pytest.mark.parametrize("values_file", MATRIX, ids=MATRIX_IDS)
def test_should_pass_tidemark_config_check_when_rendered_with_each_values_file(
        helm, example, values_file, tmp_path):
    r = render(helm, example, [values_file])
    path = tmp_path / "tidemark.yaml"
    path.write_text(r.config_text)
    out = subprocess.run([binary(), "config", "check", str(path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    effective = yaml.safe_load(out.stdout)
    assert effective["store"]["path"] == r.config["store"]["path"]
    assert effective["http"]["listen"] == r.config["http"]["listen"]
    assert effective["job"]["id"] == r.config["job"]["id"]


def test_should_carry_every_config_field_through_to_tidemark_when_set_in_values(
        helm, example, tmp_path):
    values_file = VALUES / "statefulset-native-every-config-field.yaml"
    r = render(helm, example, [values_file])
    path = tmp_path / "tidemark.yaml"
    path.write_text(r.config_text)
    out = subprocess.run([binary(), "config", "check", str(path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    effective = yaml.safe_load(out.stdout)
    given = tidemark_values(values_file)["config"]
    # Every field of the schema is set by this values file (or by the chart).
    assert leaf_paths(effective) == leaf_paths(given) | {
        ("store", "path"), ("http", "listen"), ("http", "token_file")}
    assert effective["job"]["id"] == "wordcount-eu.1"
    assert effective["offsets"]["commit_mode"] == "sync"
    assert effective["state"]["seal_on"] == "immediate"
    assert effective["proxy"]["upstream"]["tls"]["server_name"] == "kafka.example.internal"
    assert effective["checkpoint"]["interval"] == "90s"
    assert effective["http"]["max_request_bytes"] == "1MiB"
    assert effective["store"]["path"] == "/data/tidemark/tidemark.db"
    assert effective["http"]["listen"] == "127.0.0.1:8771"


def leaf_paths(tree, prefix=()):
    out = set()
    for k, v in tree.items():
        if isinstance(v, dict):
            out |= leaf_paths(v, prefix + (k,))
        else:
            out.add(prefix + (k,))
    return out


def test_should_roll_the_pods_when_the_config_changes(helm, example):
    def checksum(*sets):
        r = render(helm, example, sets=sets)
        return r.workload["spec"]["template"]["metadata"]["annotations"][
            "checksum/tidemark-config"]

    assert checksum() == checksum()
    assert checksum() != checksum("tidemark.config.checkpoint.interval=10s")


def test_should_name_the_job_after_the_release_when_job_id_is_empty(helm, example):
    r = render(helm, example, sets=["tidemark.config.job.id="])
    assert r.config["job"]["id"] == "wc"


def test_should_tell_the_user_what_to_set_in_the_consumer_when_installing(helm, example):
    out = helm.run("install", "wc", str(example), "--dry-run=client",
                   "--set", "tidemark.token.existingSecret=api-token")
    notes = out.split("NOTES:", 1)[1]
    assert "bootstrap.servers = 127.0.0.1:19092" in notes
    assert "the sidecar forwards to kafka:9092" in notes
    assert "http://127.0.0.1:8770" in notes
    assert "/var/run/secrets/tidemark/token" in notes
    assert "terminationGracePeriodSeconds 35" in notes


def test_should_use_the_project_version_as_image_tag_when_no_tag_is_set(helm):
    project = re.search(r"project\(tidemark VERSION ([0-9.]+)",
                        (REPO / "CMakeLists.txt").read_text()).group(1)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["tag"] == chart["appVersion"] == chart["version"] == project


def test_should_render_the_readme_example_when_copied_into_an_application_chart(
        helm, tmp_path):
    """The copy-paste example of helm/tidemark/README.md, file by file."""
    readme = (CHART / "README.md").read_text()
    blocks = re.findall(r"```(?:yaml)?\n(#[^\n]*)\n(.*?)```", readme, re.S)
    files = {}
    for first, body in blocks:
        name = re.match(r"# ([^\s:]+)", first).group(1)
        files.setdefault(name, "")
        files[name] += body
    assert {"Chart.yaml", "values.yaml", "templates/tidemark.yaml",
            "templates/statefulset.yaml", "templates/NOTES.txt"} <= set(files)
    chart = tmp_path / "orders"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: orders\nversion: 1.0.0\n" +
        re.sub(r"repository: \S+", f"repository: file://{CHART}", files["Chart.yaml"]))
    for name, text in files.items():
        if name != "Chart.yaml":
            (chart / name).write_text(text)
    helm.run("dependency", "update", "--skip-refresh", str(chart))
    assert "0 chart(s) failed" in helm.run("lint", "--strict", str(chart))
    r = Rendered(helm.run("template", "orders", str(chart)))
    assert r.workload["kind"] == "StatefulSet"
    assert [c["name"] for c in r.init_containers] == ["tidemark"]
    assert r.config["job"]["id"] == "orders"
    assert r.config["http"]["token_file"] == "/var/run/secrets/tidemark/token"
    assert [c["metadata"]["name"] for c in r.workload["spec"]["volumeClaimTemplates"]] == [
        "tidemark-data"]
    app = next(c for c in r.containers if c["name"] == "orders")
    assert {e["name"] for e in app["env"]} == {
        "TIDEMARK_BOOTSTRAP_SERVERS", "TIDEMARK_URL", "TIDEMARK_TOKEN_FILE"}


# ---------------------------------------------------------------- rejections


SCHEMA_REJECTIONS = [
    # (what, --set, --set-string, message lines expected)
    ("a typo in a config field", ["tidemark.config.proxy.lisen=127.0.0.1:9092"], [],
     ["- at '/config/proxy': additional properties 'lisen' not allowed"]),
    ("a typo in a chart value", ["tidemark.persistance.enabled=true"], [],
     ["- at '': additional properties 'persistance' not allowed"]),
    ("a duration without a unit", [], ["tidemark.config.checkpoint.interval=60"],
     ["- at '/config/checkpoint/interval': '60' does not match pattern"]),
    ("a number where a duration goes", ["tidemark.config.shutdown.timeout=25"], [],
     ["- at '/config/shutdown/timeout': got number, want string"]),
    ("an unknown log level", ["tidemark.config.log.level=verbose"], [],
     ["- at '/config/log/level': value must be one of 'trace', 'debug', 'info', 'warn', 'error'"]),
    ("an unknown commit mode", ["tidemark.config.offsets.commit_mode=async"], [],
     ["- at '/config/offsets/commit_mode': value must be one of 'checkpoint', 'sync'"]),
    ("a port out of range", ["tidemark.config.proxy.broker_port_base=70000"], [],
     ["- at '/config/proxy/broker_port_base': maximum:"]),
    ("a broker without a port", ["tidemark.config.proxy.upstream.bootstrap_servers=kafka"], [],
     ["- at '/config/proxy/upstream/bootstrap_servers': 'kafka' does not match pattern"]),
    ("a string where a bool goes", [], ["tidemark.nativeSidecar=yes"],
     ["- at '/nativeSidecar': got string, want boolean"]),
    ("an API port of 0", ["tidemark.api.port=0"], [],
     ["- at '/api/port': minimum: got 0, want 1"]),
    ("an unknown monitor kind", ["tidemark.monitor.kind=Monitor"], [],
     ["- at '/monitor/kind': value must be one of 'PodMonitor', 'ServiceMonitor'"]),
    ("a workload kind the example does not have", ["workload.kind=DaemonSet"], [],
     ["- at '/workload/kind': value must be one of 'Deployment', 'StatefulSet'"]),
]


@pytest.mark.parametrize("what,sets,set_strings,expected", SCHEMA_REJECTIONS,
                         ids=[r[0].replace(" ", "-") for r in SCHEMA_REJECTIONS])
def test_should_reject_values_with_a_message_naming_the_field_when_the_schema_fails(
        helm, example, what, sets, set_strings, expected):
    err = render_error(helm, example, sets=sets, set_strings=set_strings)
    assert "values don't meet the specifications of the schema(s)" in err
    for line in expected:
        assert line in err, err


TEMPLATE_REJECTIONS = [
    ("no upstream cluster", ["tidemark.config.proxy.upstream.bootstrap_servers="], [],
     "tidemark: set tidemark.config.proxy.upstream.bootstrap_servers"),
    ("store.path set by hand", ["tidemark.config.store.path=/data/x.db"], [],
     "tidemark.config.store.path is set by the chart: set tidemark.persistence.mountPath"),
    ("http.listen set by hand", ["tidemark.config.http.listen=0.0.0.0:8770"], [],
     "tidemark.config.http.listen is set by the chart: "
     "set tidemark.api.port and tidemark.api.expose"),
    ("http.token_file set by hand", ["tidemark.config.http.token_file=/t"], [],
     "tidemark.config.http.token_file is set by the chart"),
    ("an exposed API without a token", ["tidemark.api.expose=true"], [],
     "tidemark.api.expose=true serves the API on the pod's IP, so it needs a token"),
    ("a monitor of a loopback API", ["tidemark.monitor.enabled=true"], [],
     "tidemark.monitor.enabled needs tidemark.api.expose=true"),
    ("a grace period shorter than the shutdown", ["tidemark.termination.gracePeriodSeconds=30"], [],
     "tidemark.termination.gracePeriodSeconds (30) must exceed termination.applicationSeconds (5)"
     " + config.shutdown.timeout (25s) = 30s"),
    ("both token sources", ["tidemark.token.create=true", "tidemark.token.existingSecret=t"], [],
     "set either tidemark.token.existingSecret or tidemark.token.create, not both"),
    ("a Deployment with a claim template", ["workload.kind=Deployment"], [],
     "a Deployment has no volumeClaimTemplates: set tidemark.persistence.existingClaim"),
]


@pytest.mark.parametrize("what,sets,set_strings,expected", TEMPLATE_REJECTIONS,
                         ids=[r[0].replace(" ", "-") for r in TEMPLATE_REJECTIONS])
def test_should_fail_with_a_clear_message_when_values_contradict_each_other(
        helm, example, what, sets, set_strings, expected):
    err = render_error(helm, example, sets=sets, set_strings=set_strings)
    assert expected in err, err


def test_should_refuse_native_sidecars_when_kubernetes_is_older_than_1_29(helm, example):
    err = render_error(helm, example, extra=["--kube-version", "1.28.0"])
    assert "native sidecars need Kubernetes >= 1.29" in err
    r = render(helm, example, sets=["tidemark.nativeSidecar=false"],
               extra=["--kube-version", "1.28.0"])
    assert r.init_containers == []


def test_should_list_every_mistake_when_a_values_file_has_several(helm, example, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tidemark:\n"
                   "  config:\n"
                   "    checkpoint: {intervall: 30s, retained: 0}\n"
                   "    log: {level: loud}\n")
    err = render_error(helm, example, values_files=[bad])
    assert "- at '/config/checkpoint': additional properties 'intervall' not allowed" in err
    assert "- at '/config/checkpoint/retained': minimum: got 0, want 1" in err
    assert "- at '/config/log/level': value must be one of" in err


# ---------------------------------------------------------------- schema vs config.proto


def proto_messages():
    """{message: [(type, name, rule dict)]} and {enum: [values]} from config.proto."""
    src = (REPO / "protocol" / "config" / "config.proto").read_text()
    src = re.sub(r"//[^\n]*", "", src)
    enums = {m.group(1): [v for v in re.findall(r"(\w+) = \d+;", m.group(2))
                          if not v.endswith("UNSPECIFIED")]
             for m in re.finditer(r"enum (\w+) \{(.*?)\}", src, re.S)}
    body_src = re.sub(r"enum \w+ \{.*?\}", "", src, flags=re.S)
    messages = {}
    for m in re.finditer(r"message (\w+) \{(.*?)\n\}", body_src, re.S):
        fields = []
        for f in re.finditer(r"([\w.]+) (\w+) = \d+\s*(?:\[\(rule\) = \{(.*?)\}\])?;",
                             m.group(2), re.S):
            rule = dict(re.findall(r"(\w+): \"?([^\",]*)\"?", f.group(3) or ""))
            fields.append((f.group(1), f.group(2), rule))
        messages[m.group(1)] = fields
    return messages, enums


KIND_TO_DEFINITION = {
    "KIND_HOST_PORT": "hostPort", "KIND_HOST_PORT_LIST": "hostPortList", "KIND_HOST": "host",
    "KIND_BYTES": "byteSize", "KIND_KAFKA_TOPIC": "kafkaTopic", "KIND_IDENTIFIER": "identifier",
    "KIND_PATH": "path", "KIND_HTTP_URL": "httpUrl",
}


def test_should_accept_exactly_the_config_proto_fields_when_validating_config_values(tmp_path):
    messages, enums = proto_messages()
    checked = []

    def walk(message, schema, path):
        props = schema["properties"]
        assert schema["additionalProperties"] is False, path
        names = [name for _, name, _ in messages[message]]
        assert sorted(props) == sorted(names), f"{path}: schema {sorted(props)} vs proto {names}"
        for ftype, name, rule in messages[message]:
            s = props[name]
            where = ".".join(path + (name,))
            if ftype in messages:
                walk(ftype, s, path + (name,))
                continue
            checked.append(where)
            if ftype == "google.protobuf.Duration":
                assert s["$ref"] == "#/definitions/duration", where
            elif ftype == "bool":
                assert s["type"] == "boolean", where
            elif ftype in enums:
                assert s["enum"] == [v.lower() for v in enums[ftype]], where
            elif rule.get("kind") in KIND_TO_DEFINITION:
                assert s["$ref"] == "#/definitions/" + KIND_TO_DEFINITION[rule["kind"]], where
            elif ftype in ("uint32", "uint64"):
                assert s["type"] == "integer", where
                assert s["minimum"] == int(rule.get("min", "0")), where
                assert s["maximum"] == int(rule["max"]), where
            else:
                pytest.fail(f"{where}: no schema mapping for {ftype} {rule}")
            if "default" in rule:
                expected = {"true": True, "false": False}.get(rule["default"], rule["default"])
                if s.get("type") == "integer":
                    expected = int(expected)
                assert s["default"] == expected, where
            else:
                assert "default" not in s, where

    walk("Config", SCHEMA["properties"]["config"], ())
    # The binary agrees: `config check` prints every field of the effective config.
    probe = tmp_path / "c.yaml"
    probe.write_text('proxy: {upstream: {bootstrap_servers: "k:1"}}\n')
    out = subprocess.run([binary(), "config", "check", str(probe)], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    assert {".".join(p) for p in leaf_paths(yaml.safe_load(out))} == set(checked)
    # The "every config field" values file does set every field (but the chart's own).
    every = tidemark_values(VALUES / "statefulset-native-every-config-field.yaml")["config"]
    assert {".".join(p) for p in leaf_paths(every)} == set(checked) - {
        "store.path", "http.listen", "http.token_file"}


# ---------------------------------------------------------------- the rendered sidecar runs


TOKEN = "helm-test-token-0123456789"


def http_get(url, token=None, timeout=5):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def run_probe(probe, http_host):
    """Runs a rendered probe the way the kubelet would: True when it passes."""
    if "exec" in probe:
        try:
            out = subprocess.run(probe["exec"]["command"], capture_output=True,
                                 timeout=probe["timeoutSeconds"] + 5)
        except subprocess.TimeoutExpired:
            return False
        return out.returncode == 0
    get = probe["httpGet"]
    try:
        return http_get(f"http://{http_host}:{get['port']}{get['path']}",
                        timeout=probe["timeoutSeconds"]) == 200
    except OSError:
        return False


def wait_for_probe(probe, http_host, proc, log, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"tidemark exited {proc.returncode}: {log.lines[-20:]}"
        if run_probe(probe, http_host):
            return
        time.sleep(0.2)
    pytest.fail(f"probe {probe} did not pass within {timeout}s: {log.lines[-20:]}")


def test_should_fail_the_exec_probe_when_the_api_answers_503_or_is_down(helm, example):
    import http.server
    import threading

    class Unready(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503 if self.path == "/readyz" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Unready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        c = render(helm, example, sets=[f"tidemark.api.port={port}"]).sidecar
        assert run_probe(c["livenessProbe"], "127.0.0.1")       # /healthz: 200
        assert not run_probe(c["readinessProbe"], "127.0.0.1")  # /readyz: 503
    finally:
        server.shutdown()
        server.server_close()
    assert not run_probe(c["readinessProbe"], "127.0.0.1")      # nothing listening


@pytest.fixture(scope="module")
def words_cluster():
    cluster = EmbeddedKafka("debian", brokers=1, topics=("words:2",))
    yield cluster
    cluster.stop()


@pytest.mark.parametrize("exposed", [False, True], ids=["loopback-exec-probes",
                                                        "exposed-httpget-probes"])
def test_should_serve_and_exit_0_on_sigterm_when_started_from_the_rendered_container(
        helm, example, words_cluster, tmp_path, exposed):
    api_port = free_port()
    proxy_port = free_port()
    broker_base = free_port_range(16)
    # Ports come in as values: on a shared test machine they must be free ones
    # (in a pod, the defaults are). The upstream cluster is a value anyway.
    sets = [
        f"tidemark.config.proxy.upstream.bootstrap_servers={words_cluster.bootstrap}",
        f"tidemark.config.proxy.listen=127.0.0.1:{proxy_port}",
        f"tidemark.config.proxy.broker_port_base={broker_base}",
        f"tidemark.api.port={api_port}",
        "tidemark.token.existingSecret=wordcount-api-token",
        "tidemark.config.shutdown.timeout=10s",
        "tidemark.config.log.level=debug",
        "workload.kind=Deployment",
        "tidemark.persistence.enabled=false",
        f"tidemark.api.expose={str(exposed).lower()}",
    ]
    r = render(helm, example, sets=sets)
    container, config = r.sidecar, r.config

    # What must differ outside Kubernetes, and nothing else:
    #  1. the binary: the image's /usr/local/bin/tidemark -> $TIDEMARK_BUILD_DIR/tidemark;
    #  2. the ConfigMap's mount (/etc/tidemark/tidemark.yaml in args) -> a file here;
    #  3. store.path, on the data volume's mount -> a folder here;
    #  4. http.token_file, on the Secret's mount -> a file here holding the token;
    #  5. exposed only: http.listen's 0.0.0.0 -> 127.0.0.1 (serve nothing on this
    #     machine's other interfaces; the kubelet's httpGet then reaches 127.0.0.1).
    assert container["command"] == [SIDECAR_BINARY_IN_IMAGE]
    command = [binary()]
    config_mount = r.mount(container, "tidemark-config")["mountPath"]
    config_file = tmp_path / "etc" / "tidemark.yaml"
    args = [str(config_file) if a.startswith(config_mount + "/") else a for a in container["args"]]
    assert args == ["serve", "--config", str(config_file)]
    data_mount = r.mount(container, "tidemark-data")["mountPath"]
    assert config["store"]["path"].startswith(data_mount + "/")
    config["store"]["path"] = str(tmp_path / "data" / config["store"]["path"][len(data_mount) + 1:])
    token_mount = r.mount(container, "tidemark-token")["mountPath"]
    assert config["http"]["token_file"].startswith(token_mount + "/")
    token_file = tmp_path / "secret" / config["http"]["token_file"][len(token_mount) + 1:]
    token_file.parent.mkdir()
    token_file.write_text(TOKEN)
    config["http"]["token_file"] = str(token_file)
    if exposed:
        assert config["http"]["listen"] == f"0.0.0.0:{api_port}"
        config["http"]["listen"] = f"127.0.0.1:{api_port}"
    else:
        assert config["http"]["listen"] == f"127.0.0.1:{api_port}"
    config_file.parent.mkdir()
    config_file.write_text(yaml.safe_dump(config))
    env = dict(os.environ)
    env.update({e["name"]: e["value"] for e in container.get("env") or []})

    proc = subprocess.Popen(command + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    log = LineReader(proc.stderr)
    LineReader(proc.stdout)
    try:
        # The kubelet's order: the startup probe, then readiness and liveness.
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            wait_for_probe(container[probe], "127.0.0.1", proc, log)
        base = f"http://127.0.0.1:{api_port}"
        assert http_get(base + "/readyz") == 200          # health paths: no token needed
        assert http_get(base + "/healthz") == 200
        assert http_get(base + "/v1/checkpoints") == 401  # everything else needs it
        assert http_get(base + "/metrics") == 401
        assert http_get(base + "/v1/checkpoints", TOKEN) == 200
        assert http_get(base + "/metrics", TOKEN) == 200

        # The application's bootstrap.servers (from tidemark.appEnv) reaches the cluster.
        app_env = {e["name"]: e.get("value") for e in r.app["env"]}
        assert app_env["TIDEMARK_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{proxy_port}"
        listing = subprocess.run(["kcat", "-b", app_env["TIDEMARK_BOOTSTRAP_SERVERS"], "-L",
                                  "-J", "-m", "10"], capture_output=True, text=True, timeout=30)
        assert listing.returncode == 0, listing.stderr
        assert "words" in [t["topic"] for t in json.loads(listing.stdout)["topics"]]

        proc.send_signal(signal.SIGTERM)
        grace = r.pod["terminationGracePeriodSeconds"]
        assert proc.wait(timeout=grace) == 0, log.lines[-20:]
        assert any("final checkpoint durable" in line for line in log.lines), log.lines[-20:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
