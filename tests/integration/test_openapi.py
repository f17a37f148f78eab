"""docs/api/openapi.yaml describes exactly the routes the sidecar serves.

The sidecar logs every route it registered at start, at debug level
(`component=http msg=route method=GET pattern=/v1/state/{key...}`); this test
starts one, collects those (method, pattern) pairs and compares them, both
ways, with the (method, path) operations of the OpenAPI document. A route
added to the server or to the document alone fails it. A pattern's final
`{name...}` (the rest of the path) is OpenAPI's `{name}`. TIDEMARK_OPENAPI
names another document to check (default: docs/api/openapi.yaml)."""

import os
import pathlib
import re

import pytest

from harness.tidemark import REPO, EmbeddedKafka, Sidecar

try:
    import yaml
except ImportError as e:  # fail, not skip: a skipped cross-check checks nothing
    raise ImportError("test_openapi.py reads the document with PyYAML: "
                      "apt-get install python3-yaml") from e

SPEC = pathlib.Path(os.environ.get("TIDEMARK_OPENAPI", REPO / "docs" / "api" / "openapi.yaml"))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ROUTE_LINE = re.compile(r"\bcomponent=http\b.*\bmsg=route\b.*\bmethod=(\S+)\s+pattern=(\S+)")


@pytest.fixture(scope="module")
def served_routes(tmp_path_factory):
    """{(METHOD, path)} as a running sidecar logs them, `{x...}` written `{x}`."""
    cluster = EmbeddedKafka("debian", brokers=1, topics=("demo:6",))
    try:
        sidecar = Sidecar(tmp_path_factory.mktemp("openapi"), cluster.bootstrap,
                          {"log.level": "debug"})
        try:
            lines = list(sidecar.log.lines)  # every line up to "ready", routes included
        finally:
            sidecar.stop()
    finally:
        cluster.stop()
    found = [ROUTE_LINE.search(line) for line in lines]
    routes = [(m.group(1), re.sub(r"\{(\w+)\.\.\.\}", r"{\1}", m.group(2))) for m in found if m]
    assert routes, f"no 'msg=route' lines in the sidecar's log: {lines}"
    assert len(routes) == len(set(routes)), f"a route logged twice: {routes}"
    return set(routes)


@pytest.fixture(scope="module")
def spec():
    with open(SPEC, encoding="utf-8") as f:
        return yaml.safe_load(f)


def documented_routes(spec):
    return {(method.upper(), path)
            for path, item in spec["paths"].items()
            for method in item if method in METHODS}


def test_openapi_should_document_every_route_the_sidecar_serves(served_routes, spec):
    missing = served_routes - documented_routes(spec)
    assert not missing, f"served but not in {SPEC}: {sorted(missing)}"


def test_openapi_should_document_no_route_the_sidecar_does_not_serve(served_routes, spec):
    extra = documented_routes(spec) - served_routes
    assert not extra, f"in {SPEC} but not served: {sorted(extra)}"


def test_openapi_should_be_3_1_with_bearer_auth_and_only_health_routes_exempt(spec):
    assert str(spec["openapi"]).startswith("3.1.")
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]
    exempt = {(m.upper(), path) for path, item in spec["paths"].items()
              for m, op in item.items() if m in METHODS and op.get("security") == []}
    assert exempt == {("GET", "/healthz"), ("GET", "/readyz")}


def test_openapi_should_give_every_guarded_operation_a_401_and_resolve_every_reference(spec):
    def resolve(ref):
        node = spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(spec):
        assert ref.startswith("#/"), ref
        resolve(ref)  # KeyError: a dangling reference
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS and op.get("security") != []:
                assert "401" in op["responses"], f"{method.upper()} {path}: no 401"
