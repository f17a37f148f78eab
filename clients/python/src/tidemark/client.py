"""The HTTP API client: state, offsets and checkpoints of a local Tidemark sidecar.

One `Client` holds one keep-alive connection (http.client), used by one
request at a time (a lock serialises threads; give each worker thread its own
client for parallel requests). Values are bytes both ways; `str` values are
sent as UTF-8.
"""

import base64
import collections.abc
import http.client
import json
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass

from tidemark.errors import TransportError, error_for

DEFAULT_URL = "http://127.0.0.1:8770"

# A request that failed this way on a reused keep-alive connection, before any
# answer arrived, met a connection the sidecar had closed while idle: the
# request never reached it, and an idempotent one is sent again once on a new
# connection. (http.client.RemoteDisconnected is a ConnectionResetError.)
_DROPPED = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


@dataclass(frozen=True)
class State:
    """A state value as the sidecar holds it."""

    value: bytes
    content_type: str
    etag: str


@dataclass(frozen=True)
class StateInfo:
    """One entry of `Client.list_state`."""

    key: str
    size: int
    etag: str


def encode_key(key):
    """The URL path of a state key: each `/`-separated segment percent-encoded
    (`urllib.parse.quote(segment, safe="")`), joined by `/`. The sidecar
    decides what a valid key is (400 invalid_key otherwise)."""
    if not isinstance(key, str):
        raise TypeError(f"a state key is a str, not {type(key).__name__}")
    return "/".join(urllib.parse.quote(segment, safe="") for segment in key.split("/"))


def encode_partition(group, topic, partition):
    """The URL path of a partition's state scope:
    /v1/groups/{group}/topics/{topic}/partitions/{partition}/state, with group
    and topic each percent-encoded as one segment ('/' included). The sidecar
    decides what a valid group, topic and partition are (400 invalid_partition
    otherwise)."""
    for name, v in (("group", group), ("topic", topic)):
        if not isinstance(v, str):
            raise TypeError(f"a {name} is a str, not {type(v).__name__}")
    if isinstance(partition, bool) or not isinstance(partition, int):
        raise TypeError(f"a partition is an int, not {type(partition).__name__}")
    return (f"/v1/groups/{urllib.parse.quote(group, safe='')}"
            f"/topics/{urllib.parse.quote(topic, safe='')}/partitions/{partition}/state")


def to_bytes(value):
    """bytes as they are; str as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"a state value is bytes or str, not {type(value).__name__}")


def _offsets(offsets):
    if isinstance(offsets, (str, bytes)) or not isinstance(offsets, collections.abc.Iterable):
        raise TypeError("offsets is a list of {group, topic, partition, offset} mappings")
    out = []
    for o in offsets:
        if not isinstance(o, collections.abc.Mapping):
            raise TypeError(f"an offset is a mapping, not {type(o).__name__}")
        out.append(dict(o))
    return out


def commit_body(offsets, put=None, delete=None):
    """The JSON document of POST /v1/commit (bytes)."""
    puts = {}
    for key, value in (put or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"a state key is a str, not {type(key).__name__}")
        puts[key] = base64.b64encode(to_bytes(value)).decode("ascii")
    deletes = list(delete or [])
    for key in deletes:
        if not isinstance(key, str):
            raise TypeError(f"a state key is a str, not {type(key).__name__}")
    doc = {"offsets": _offsets(offsets), "state": {"put": puts, "delete": deletes}}
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


class _TokenFile:
    """A bearer token read from a file, re-read when the file changes (a
    rotated Kubernetes Secret). A re-read that fails or finds it empty keeps
    the previous token, as the sidecar does."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._signature = None
        self._token = None
        if not self._reload(strict=True):
            raise ValueError(f"token_file {self.path} is empty")

    def _reload(self, strict=False):
        try:
            st = os.stat(self.path)
            signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if signature == self._signature:
                return True
            with open(self.path, "rb") as f:
                token = f.read().decode("utf-8").rstrip("\r\n ")
        except (OSError, UnicodeDecodeError):
            if strict:
                raise
            return False
        if not token:
            return False
        self._signature, self._token = signature, token
        return True

    def token(self):
        self._reload()
        return self._token


class Client:
    """A client of the sidecar's local HTTP API.

    `base_url`: the sidecar's `http.listen` (http or https, with an optional
    path prefix). `token`: the bearer token, or `token_file`: a file holding it
    (`http.token_file`), re-read when it changes. `timeout`: seconds for
    connecting and for each read; `checkpoint()` takes its own.

    Errors: `tidemark.TidemarkError` (and its subclasses) when the sidecar
    answers with an error; `tidemark.TransportError` when no answer came.
    """

    # A keep-alive connection unused for this long is replaced before the next
    # request rather than reused: the sidecar closes connections idle for 60s,
    # and a POST (never sent twice) must not meet one it is closing.
    IDLE_RECONNECT_SECONDS = 30.0

    def __init__(self, base_url=DEFAULT_URL, token=None, token_file=None, timeout=30):
        if token is not None and token_file is not None:
            raise ValueError("give token or token_file, not both")
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http://host:port[/prefix], got {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"base_url must not have a query or fragment: {base_url!r}")
        self.base_url = base_url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._token_file = _TokenFile(token_file) if token_file is not None else None
        self._lock = threading.Lock()
        self._conn = None
        self._last_used = 0.0

    # -- state ---------------------------------------------------------------

    def put_state(self, key, value, content_type=None, if_match=None):
        """Stages `value` (bytes, or str sent as UTF-8) under `key`; returns its
        ETag. Without `content_type` the sidecar stores application/octet-stream.
        `if_match`: an ETag the key must still have ("*": must exist), else
        `Conflict` (409 precondition_failed). Beyond http.max_blob_bytes:
        `PayloadTooLarge`."""
        return self._put_state("/v1/state", key, value, content_type, if_match)

    def get_state(self, key, view="sealed"):
        """The `State` of `key`, or None when it has none. `view`: "sealed" (what
        the last offset commit sealed, what a checkpoint holds) or "staged"
        (including writes not sealed yet)."""
        return self._get_state("/v1/state", key, view)

    def delete_state(self, key, if_match=None):
        """Stages the deletion of `key`. `NotFound` when it has no state;
        `Conflict` when `if_match` is not its current ETag."""
        self._delete_state("/v1/state", key, if_match)

    def list_state(self, prefix="", view="sealed"):
        """The keys starting with `prefix` (a plain string prefix, not a
        segment match), in key order, as `StateInfo`s. Instance keys only:
        partition-scoped keys are listed by `partition(...).list_state()`."""
        return self._list_state("/v1/state", prefix, view)

    def partition(self, group, topic, partition):
        """The partition-scoped state of one partition of one consumer group:
        a `PartitionState` with the same put_state/get_state/delete_state/
        list_state (same arguments, results and errors), whose keys are separate
        from the instance keys and from every other partition's. A bad group,
        topic or partition is `BadRequest` 400 invalid_partition (from the
        sidecar, when a call is made)."""
        return PartitionState(self, group, topic, partition)

    def _put_state(self, base, key, value, content_type, if_match):
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if if_match is not None:
            headers["If-Match"] = if_match
        _, resp_headers, _ = self._call("PUT", base + "/" + encode_key(key),
                                        body=to_bytes(value), headers=headers)
        return resp_headers.get("ETag")

    def _get_state(self, base, key, view):
        query = {"view": view} if view != "sealed" else None
        status, headers, body = self._call("GET", base + "/" + encode_key(key), query=query,
                                           absent_ok=True)
        if status == 404:
            return None
        return State(value=body, content_type=headers.get("Content-Type", ""),
                     etag=headers.get("ETag", ""))

    def _delete_state(self, base, key, if_match):
        headers = {"If-Match": if_match} if if_match is not None else {}
        self._call("DELETE", base + "/" + encode_key(key), headers=headers)

    def _list_state(self, base, prefix, view):
        query = {}
        if prefix:
            query["prefix"] = prefix
        if view != "sealed":
            query["view"] = view
        doc = self._json("GET", base, query=query or None)
        return [StateInfo(key=k["key"], size=k["size"], etag=k["etag"]) for k in doc["keys"]]

    # -- offsets ---------------------------------------------------------------

    def mark_offsets(self, offsets):
        """Marks offsets as processed: [{group, topic, partition, offset,
        leader_epoch?, metadata?}] (offset: the next one to read). Seals every
        staged state write with them. Returns {"seal": n, "partitions": n}."""
        body = json.dumps(_offsets(offsets), separators=(",", ":")).encode("utf-8")
        return self._json("POST", "/v1/offsets", body=body, content_type="application/json")

    def commit(self, offsets, put=None, delete=None):
        """Offsets and state changes in one request, applied whole or not at
        all and sealed together: `put` {key: bytes|str}, `delete` [key].
        Returns {"seal": n, "partitions": n}."""
        return self._json("POST", "/v1/commit", body=commit_body(offsets, put, delete),
                          content_type="application/json")

    # -- checkpoints -----------------------------------------------------------

    def checkpoint(self, timeout=None):
        """Takes a checkpoint and returns its id once it is durable (at once
        when everything sealed already is). Waits up to `timeout` seconds
        (default: the client's); the sidecar itself gives up after
        checkpoint.timeout (`ServerError` 504 checkpoint_timeout)."""
        return self._json("POST", "/v1/checkpoints", timeout=timeout)["id"]

    def checkpoints(self):
        """The retained checkpoints, newest first, as summaries (dicts: id,
        created_at_ms, trigger, partitions, state_keys, state_bytes)."""
        return self._json("GET", "/v1/checkpoints")["checkpoints"]

    def get_checkpoint(self, checkpoint_id):
        """One retained checkpoint in detail (a dict with its offsets and state
        keys); `NotFound` when it is not retained."""
        return self._json("GET", "/v1/checkpoints/" + urllib.parse.quote(str(checkpoint_id),
                                                                          safe=""))

    # -- connection --------------------------------------------------------------

    def close(self):
        with self._lock:
            self._drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Client({self.base_url!r})"

    def _json(self, method, path, body=None, query=None, content_type=None, timeout=None):
        headers = {"Content-Type": content_type} if content_type else {}
        status, _, data = self._call(method, path, body=body, query=query, headers=headers,
                                     timeout=timeout)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise TransportError(f"{method} {path}: {status} answer is not JSON: {data[:200]!r}") \
                from e

    def _call(self, method, path, body=None, query=None, headers=None, timeout=None,
              absent_ok=False):
        """Sends one request; returns (status, headers, body) of a 2xx answer
        (or of a 404 not_found when `absent_ok`), raises otherwise."""
        target = self._prefix + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        all_headers = dict(headers or {})
        token = self._token if self._token_file is None else self._token_file.token()
        if token is not None:
            all_headers["Authorization"] = "Bearer " + token
        with self._lock:
            status, resp_headers, data = self._exchange(method, target, body, all_headers, timeout)
        if 200 <= status <= 299:
            return status, resp_headers, data
        error = error_for(status, data)
        if absent_ok and status == 404 and error.code == "not_found":
            return status, resp_headers, data
        raise error

    def _connection(self, timeout):
        conn = self._conn
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._conn = cls(self._host, self._port, timeout=self.timeout)
        elif conn.sock is not None and \
                time.monotonic() - self._last_used > self.IDLE_RECONNECT_SECONDS:
            conn.close()
        reused = conn.sock is not None
        if not reused:
            try:
                conn.connect()
            except OSError as e:
                conn.close()
                raise TransportError(f"cannot connect to {self.base_url}: {e}") from e
        conn.sock.settimeout(self.timeout if timeout is None else timeout)
        return conn, reused

    def _drop(self):
        if self._conn is not None:
            self._conn.close()

    def _exchange(self, method, target, body, headers, timeout):
        what = f"{method} {target}"
        for attempt in (1, 2):
            conn, reused = self._connection(timeout)
            send_error = None
            try:
                conn.request(method, target, body=body, headers=headers)
            except _DROPPED as e:
                # The sidecar may have answered before reading the body (401,
                # 413) and closed: read that answer if it is there.
                send_error = e
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                raise TransportError(f"{what}: {e}") from e
            try:
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                first = send_error or e
                if attempt == 1 and reused and method in _IDEMPOTENT and \
                        isinstance(first, _DROPPED):
                    continue  # the sidecar had closed the idle connection
                raise TransportError(f"{what}: {first!r}") from first
            try:
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                raise TransportError(f"{what}: answer cut short: {e!r}") from e
            if send_error is not None or resp.will_close:
                self._drop()
            self._last_used = time.monotonic()
            return resp.status, resp.headers, data
        raise AssertionError("unreachable")


class PartitionState:
    """The state of one partition of one consumer group (`Client.partition`):
    the `Client`'s state calls, scoped to the partition. Uses its client's
    connection; cheap to create, holds nothing else."""

    def __init__(self, client, group, topic, partition):
        self._base = encode_partition(group, topic, partition)
        self.client = client
        self.group = group
        self.topic = topic
        self.partition = partition

    def put_state(self, key, value, content_type=None, if_match=None):
        """As `Client.put_state`, in this partition's scope."""
        return self.client._put_state(self._base, key, value, content_type, if_match)

    def get_state(self, key, view="sealed"):
        """As `Client.get_state`, in this partition's scope."""
        return self.client._get_state(self._base, key, view)

    def delete_state(self, key, if_match=None):
        """As `Client.delete_state`, in this partition's scope."""
        self.client._delete_state(self._base, key, if_match)

    def list_state(self, prefix="", view="sealed"):
        """This partition's keys starting with `prefix`, in key order (keys as
        given to put_state, without the partition)."""
        return self.client._list_state(self._base, prefix, view)

    def __repr__(self):
        return f"PartitionState({self.group!r}, {self.topic!r}, {self.partition!r})"
