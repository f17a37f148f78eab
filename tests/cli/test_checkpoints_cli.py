"""`tidemark checkpoints list|show|diff|export|import` (and restore's help) against a real sidecar's
store (offline, while the sidecar runs) and its HTTP API (online)."""

import hashlib
import json
import sqlite3
import subprocess
import urllib.error
import urllib.request

import pytest

from harness.tidemark import EmbeddedKafka, Sidecar, binary, committed_offsets, free_port

TOKEN = "s3cret-token"
# Checkpoints only when asked, so the tests decide exactly what each holds.
MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}


def run(*args, timeout=60):
    return subprocess.run([binary(), "checkpoints", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def call(sidecar, method, path, body=None, headers=None, token=TOKEN):
    data = body.encode() if isinstance(body, str) else body
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(sidecar.url(path), data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def checkpoint(sidecar, token=TOKEN):
    status, _, body = call(sidecar, "POST", "/v1/checkpoints", token=token)
    assert status == 201, body
    return json.loads(body)["id"]


def seal(sidecar, offsets, token=TOKEN):
    assert call(sidecar, "POST", "/v1/offsets", json.dumps(offsets), token=token)[0] == 200


def put(sidecar, key, value, content_type="application/octet-stream", token=TOKEN):
    status, _, body = call(sidecar, "PUT", f"/v1/state/{key}", value,
                           {"Content-Type": content_type}, token=token)
    assert status == 204, body


def one_error_line(result):
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tidemark: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def kafka():
    cluster = EmbeddedKafka("debian", brokers=1, topics=("demo:3",))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def live(kafka, tmp_path_factory):
    """A running sidecar (with a token) and two checkpoints:
    first:  counts/a="1" (text/plain), counts/b="bb"; g/demo/0 @5, g/demo/1 @7 metadata "m"
    second: counts/a="2", counts/b deleted, counts/c=bytes; g/demo/0 @12, g/demo/2 @3 added."""
    workdir = tmp_path_factory.mktemp("live")
    token_file = workdir / "token"
    token_file.write_text(TOKEN + "\n")
    sidecar = Sidecar(workdir / "sidecar", kafka.bootstrap,
                      {**MANUAL, "http.token_file": str(token_file)})
    put(sidecar, "counts/a", "1", "text/plain")
    put(sidecar, "counts/b", "bb")
    seal(sidecar, [{"group": "g", "topic": "demo", "partition": 0, "offset": 5},
                   {"group": "g", "topic": "demo", "partition": 1, "offset": 7,
                    "leader_epoch": 2, "metadata": "m"}])
    first = checkpoint(sidecar)
    put(sidecar, "counts/a", "2", "text/plain")
    assert call(sidecar, "DELETE", "/v1/state/counts/b")[0] == 204
    put(sidecar, "counts/c", b"\x00\x01\x02")
    seal(sidecar, [{"group": "g", "topic": "demo", "partition": 0, "offset": 12},
                   {"group": "g", "topic": "demo", "partition": 2, "offset": 3}])
    second = checkpoint(sidecar)
    sidecar.store = str(workdir / "sidecar" / "tidemark.db")
    sidecar.admin = ["--admin", f"http://{sidecar.http}", "--token-file", str(token_file)]
    sidecar.first, sidecar.second = first, second
    yield sidecar
    sidecar.stop()


def api_json(sidecar, path):
    status, _, body = call(sidecar, "GET", path)
    assert status == 200, body
    return json.loads(body)


# ------------------------------------------------------------------ list


def test_list_should_print_a_table_newest_first_when_reading_the_store(live):
    result = run("list", "--store", live.store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "(UTC)", "TRIGGER", "PARTITIONS", "STATE", "KEYS",
                                "STATE", "BYTES"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == [live.second, live.first]
    assert rows[0][1].endswith("Z") and rows[0][2:6] == ["request", "3", "2", "4"]
    assert rows[1][2:6] == ["request", "2", "2", "3"]


def test_list_json_should_be_what_the_api_answers_offline_and_online(live):
    offline = run("list", "--store", live.store, "--json")
    online = run("list", *live.admin, "--json")
    assert offline.returncode == online.returncode == 0, offline.stderr + online.stderr
    expected = api_json(live, "/v1/checkpoints")
    assert json.loads(offline.stdout) == expected == json.loads(online.stdout)
    assert [c["id"] for c in expected["checkpoints"]] == [live.second, live.first]


def test_list_should_take_the_store_from_a_config_file(live):
    result = run("list", "--config", live.config_path, "--json")
    assert result.returncode == 0, result.stderr
    assert [c["id"] for c in json.loads(result.stdout)["checkpoints"]] == [live.second, live.first]


def test_list_should_say_so_when_the_store_has_no_checkpoints(kafka, tmp_path):
    sidecar = Sidecar(tmp_path / "empty", kafka.bootstrap, MANUAL)
    try:
        result = run("list", "--store", tmp_path / "empty" / "tidemark.db")
        assert (result.returncode, result.stdout) == (0, "no checkpoints\n")
    finally:
        sidecar.stop()


# ------------------------------------------------------------------ show


def test_show_should_print_offsets_and_state_keys_with_their_hashes(live):
    result = run("show", live.first, "--store", live.store)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"Checkpoint {live.first}\n")
    assert "trigger  request" in out and "job      it" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["g", "demo", "0", "5", "-1", "-"] in rows
    assert ["g", "demo", "1", "7", "2", '"m"'] in rows
    assert ["counts/a", "1", hashlib.sha256(b"1").hexdigest(), "text/plain"] in rows
    assert ["counts/b", "2", hashlib.sha256(b"bb").hexdigest(), "application/octet-stream"] in rows


def test_show_json_should_be_what_the_api_answers_offline_and_online(live):
    expected = api_json(live, f"/v1/checkpoints/{live.second}")
    for source in (["--store", live.store], live.admin):
        result = run("show", live.second, *source, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == expected


def test_show_should_accept_latest_for_the_newest_checkpoint(live):
    for source in (["--store", live.store], live.admin):
        result = run("show", "latest", *source, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["id"] == live.second


# ------------------------------------------------------------------ diff


def test_diff_should_report_moved_offsets_and_changed_state(live):
    result = run("diff", live.first, live.second, "--store", live.store, "--json")
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert (d["from"]["id"], d["to"]["id"]) == (live.first, live.second)
    assert d["offsets"]["unchanged"] == 1
    assert d["offsets"]["removed"] == []
    [changed] = d["offsets"]["changed"]
    assert (changed["partition"], changed["from"]["offset"], changed["to"]["offset"],
            changed["delta"]) == (0, 5, 12, 7)
    assert [(o["partition"], o["offset"]) for o in d["offsets"]["added"]] == [(2, 3)]
    state = d["state"]
    assert [s["key"] for s in state["added"]] == ["counts/c"]
    assert state["added"][0]["sha256"] == hashlib.sha256(b"\x00\x01\x02").hexdigest()
    assert [s["key"] for s in state["removed"]] == ["counts/b"]
    [a] = state["changed"]
    assert (a["key"], a["from"]["sha256"], a["to"]["sha256"]) == (
        "counts/a", hashlib.sha256(b"1").hexdigest(), hashlib.sha256(b"2").hexdigest())
    assert state["unchanged"] == 0


def test_diff_should_agree_offline_and_online_and_read_as_a_table(live):
    offline = run("diff", live.first, live.second, "--store", live.store, "--json")
    online = run("diff", live.first, live.second, *live.admin, "--json")
    assert json.loads(offline.stdout) == json.loads(online.stdout)
    table = run("diff", live.first, "latest", *live.admin)
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()]
    assert "Offsets: 1 changed, 1 added, 0 removed, 1 unchanged" in table.stdout
    assert ["g", "demo", "0", "5", "12", "+7"] in rows
    assert ["g", "demo", "2", "-", "3", "new"] in rows
    assert "State: 1 added, 1 removed, 1 changed, 0 unchanged" in table.stdout
    assert ["changed", "counts/a", "1", "B", "->", "1", "B",
            hashlib.sha256(b"1").hexdigest()[:12], "->", hashlib.sha256(b"2").hexdigest()[:12]] \
        in rows


def test_diff_of_a_checkpoint_with_itself_should_find_nothing(live):
    result = run("diff", live.second, live.second, "--store", live.store, "--json")
    d = json.loads(result.stdout)
    assert d["offsets"]["unchanged"] == 3 and d["state"]["unchanged"] == 2
    assert d["offsets"]["changed"] == d["state"]["changed"] == []


# ------------------------------------------------------------------ export and import


def state_of(sidecar, token=TOKEN):
    """Every sealed key: {key: (bytes, content type)}."""
    keys = json.loads(call(sidecar, "GET", "/v1/state", token=token)[2])["keys"]
    out = {}
    for k in keys:
        status, headers, body = call(sidecar, "GET", f"/v1/state/{k['key']}", token=token)
        assert status == 200
        out[k["key"]] = (body, headers["Content-Type"])
    return out


def test_import_of_an_export_should_be_restored_by_a_sidecar_started_on_it(live, kafka, tmp_path):
    exported = tmp_path / "first.tmckpt"
    result = run("export", live.first, exported, "--store", live.store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"exported checkpoint {live.first} ")
    assert not (tmp_path / "first.tmckpt.partial").exists()
    assert exported.stat().st_mode & 0o077 == 0  # the application's state: owner only

    store = tmp_path / "fresh" / "tidemark.db"
    store.parent.mkdir()
    result = run("import", exported, "--store", store)
    assert result.returncode == 0, result.stderr
    listed = json.loads(run("list", "--store", store, "--json").stdout)["checkpoints"]
    assert [c["trigger"] for c in listed] == ["import"]
    assert int(listed[0]["id"]) > int(live.second)  # a fresh id from the store

    restored = Sidecar(tmp_path / "fresh", kafka.bootstrap, MANUAL)
    try:
        assert state_of(restored, token=None) == {
            "counts/a": (b"1", "text/plain"), "counts/b": (b"bb", "application/octet-stream")}
        original = api_json(live, f"/v1/checkpoints/{live.first}")
        status, _, body = call(restored, "GET", "/v1/checkpoints/" + listed[0]["id"], token=None)
        imported = json.loads(body)
        assert status == 200 and imported["trigger"] == "import"
        for field in ("offsets", "state", "job_id", "partitions", "state_keys", "state_bytes"):
            assert imported[field] == original[field], field
        # A consumer through the restored sidecar resumes from the imported
        # offsets, although the live sidecar has since committed 0 -> 12 upstream.
        assert committed_offsets(restored.fields["proxy"], "g", "demo", [0, 1]) == {0: 5, 1: 7}
    finally:
        restored.stop()


def test_import_should_add_a_newest_checkpoint_to_a_stopped_sidecars_store(live, kafka, tmp_path):
    exported = tmp_path / "second.tmckpt"
    assert run("export", "latest", exported, "--config", live.config_path).returncode == 0
    sidecar = Sidecar(tmp_path / "other", kafka.bootstrap, MANUAL)
    put(sidecar, "other", "x", token=None)
    seal(sidecar, [{"group": "h", "topic": "demo", "partition": 0, "offset": 1}], token=None)
    before = checkpoint(sidecar, token=None)
    store = tmp_path / "other" / "tidemark.db"

    refused = run("import", exported, "--store", store)
    assert refused.returncode == 1
    assert "open in another process" in one_error_line(refused)

    assert sidecar.terminate() == 0
    result = run("import", exported, "--config", sidecar.config_path)
    assert result.returncode == 0, result.stderr
    listed = json.loads(run("list", "--store", store, "--json").stdout)["checkpoints"]
    assert listed[0]["trigger"] == "import" and int(listed[0]["id"]) > int(before)
    assert before in [c["id"] for c in listed[1:]]
    restarted = Sidecar(tmp_path / "other", kafka.bootstrap, MANUAL)
    try:
        assert state_of(restarted, token=None) == {
            "counts/a": (b"2", "text/plain"), "counts/c": (b"\x00\x01\x02",
                                                           "application/octet-stream")}
    finally:
        restarted.stop()


def test_import_should_refuse_a_file_whose_blob_does_not_match_its_hash(live, tmp_path):
    exported = tmp_path / "cp.tmckpt"
    assert run("export", live.second, exported, "--store", live.store).returncode == 0
    data = bytearray(exported.read_bytes())
    at = data.index(b"\x00\x01\x02")  # counts/c's bytes
    data[at] ^= 0xff
    corrupt = tmp_path / "corrupt.tmckpt"
    corrupt.write_bytes(bytes(data))
    store = tmp_path / "store.db"
    result = run("import", corrupt, "--store", store)
    assert result.returncode == 1
    assert "does not match its SHA-256" in one_error_line(result)
    assert not store.exists()  # verified before the store is touched

    truncated = tmp_path / "truncated.tmckpt"
    truncated.write_bytes(exported.read_bytes()[:-10])
    result = run("import", truncated, "--store", store)
    assert result.returncode == 1 and "truncated" in one_error_line(result)

    not_one = tmp_path / "text.tmckpt"
    not_one.write_text("hello\n" * 10)
    result = run("import", not_one, "--store", store)
    assert result.returncode == 1 and "not a tidemark checkpoint file" in one_error_line(result)


def test_export_should_show_progress_for_large_state(kafka, tmp_path):
    sidecar = Sidecar(tmp_path / "big", kafka.bootstrap, MANUAL)
    try:
        blobs = {f"big/{i}": bytes([i]) * (6 << 20) for i in range(4)}  # 24 MiB
        for key, value in blobs.items():
            put(sidecar, key, value, token=None)
        seal(sidecar, [{"group": "g", "topic": "demo", "partition": 0, "offset": 1}], token=None)
        checkpoint(sidecar, token=None)
        exported = tmp_path / "big.tmckpt"
        result = run("export", "latest", exported, "--store", tmp_path / "big" / "tidemark.db")
        assert result.returncode == 0, result.stderr
        progress = result.stderr.splitlines()
        assert 1 <= len(progress) <= 4 and progress[-1] == \
            "tidemark: export: 24.0 MiB of 24.0 MiB written (100%)", progress
        assert exported.stat().st_size > 24 << 20
        result = run("import", exported, "--store", tmp_path / "copy.db")
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines()[-1].endswith("24.0 MiB of 24.0 MiB verified (100%)")
    finally:
        sidecar.stop()


def test_show_should_name_the_partition_of_partition_scoped_state(kafka, tmp_path):
    sidecar = Sidecar(tmp_path / "scoped", kafka.bootstrap, MANUAL)
    try:
        status, _, _ = call(sidecar, "PUT", "/v1/groups/g/topics/demo/partitions/1/state/k", "v",
                            {"Content-Type": "application/octet-stream"}, token=None)
        if status == 404:
            pytest.skip("this sidecar has no partition-scoped state")
        put(sidecar, "k", "instance", token=None)
        seal(sidecar, [{"group": "g", "topic": "demo", "partition": 1, "offset": 1}], token=None)
        cp = checkpoint(sidecar, token=None)
        store = tmp_path / "scoped" / "tidemark.db"
        shown = json.loads(run("show", cp, "--store", store, "--json").stdout)
        assert shown == json.loads(call(sidecar, "GET", f"/v1/checkpoints/{cp}", token=None)[2])
        assert {s.get("partition", {}).get("partition") for s in shown["state"]} == {1, None}
        rows = [line.split() for line in run("show", cp, "--store", store).stdout.splitlines()]
        assert ["g/demo/1", "k", "1", hashlib.sha256(b"v").hexdigest(),
                "application/octet-stream"] in rows
    finally:
        sidecar.stop()


def test_should_read_an_older_store_format_without_upgrading_it(live, tmp_path):
    """Format 2 keyed blobs by their hash; reading must not migrate the file
    (the sidecar that owns it does that when it starts)."""
    old = tmp_path / "format2.db"
    with sqlite3.connect(old) as db, sqlite3.connect(f"file:{live.store}?mode=ro", uri=True) as src:
        db.executescript("""
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE blobs(sha256 BLOB PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE TABLE checkpoints(id INTEGER PRIMARY KEY, created_at_ms INTEGER NOT NULL,
                                     trigger TEXT NOT NULL, manifest BLOB NOT NULL);
            INSERT INTO meta VALUES('format_version', '2');
            PRAGMA journal_mode=WAL;""")
        db.executemany("INSERT INTO blobs VALUES(?, ?, ?)",
                       src.execute("SELECT sha256, size, data FROM blobs").fetchall())
        # Format 2 rows are whole manifests; format 4 stores the first checkpoint whole too.
        db.executemany("INSERT INTO checkpoints VALUES(?, ?, ?, ?)",
                       src.execute("SELECT id, created_at_ms, trigger, manifest FROM checkpoints "
                                   "WHERE base_id = 0").fetchall())
    expected = run("show", live.first, "--store", live.store, "--json").stdout
    assert run("show", live.first, "--store", old, "--json").stdout == expected
    exported = tmp_path / "from-old.tmckpt"
    assert run("export", live.first, exported, "--store", old).returncode == 0
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT value FROM meta").fetchall() == [("2",)]
        assert "remote_outbox" not in str(db.execute("SELECT name FROM sqlite_master").fetchall())
    assert run("import", exported, "--store", tmp_path / "new.db").returncode == 0


# ------------------------------------------------------------------ errors and usage


def test_should_exit_1_when_the_checkpoint_id_is_not_retained(live, tmp_path):
    for source in (["--store", live.store], live.admin):
        result = run("show", "123", *source)
        assert result.returncode == 1
        assert "123" in one_error_line(result)
    result = run("export", "123", tmp_path / "never", "--store", live.store)
    assert result.returncode == 1 and "no checkpoint 123" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_should_exit_1_when_the_store_is_missing_or_not_a_store(tmp_path):
    result = run("list", "--store", tmp_path / "missing.db")
    assert result.returncode == 1
    assert one_error_line(result) == f"tidemark: store {tmp_path / 'missing.db'} does not exist"
    text = tmp_path / "text.db"
    text.write_text("not sqlite at all\n" * 100)
    result = run("list", "--store", text)
    assert one_error_line(result) == f"tidemark: store {text} is corrupt or not an SQLite database"


def test_should_exit_1_when_the_sidecar_is_unreachable():
    result = run("list", "--admin", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "cannot reach the sidecar" in one_error_line(result)


def test_should_exit_1_when_the_token_is_missing(live):
    result = run("list", "--admin", f"http://{live.http}")
    assert result.returncode == 1
    assert "(HTTP 401 unauthenticated; see --token-file)" in one_error_line(result)


@pytest.mark.parametrize("args, message", [
    ([], "checkpoints needs a command"),
    (["frobnicate"], "unknown checkpoints command 'frobnicate'"),
    (["show", "--store", "x.db"], "checkpoints show needs ID"),
    (["diff", "1", "--store", "x.db"], "checkpoints diff needs ID1 ID2"),
    (["list", "extra", "--store", "x.db"], "unexpected argument extra"),
    (["show", "abc", "--store", "x.db"], "'abc' is not a checkpoint id"),
    (["show", "-1", "--store", "x.db"], "'-1' is not a checkpoint id"),
    (["list"], "give one of --store, --config or --admin"),
    (["list", "--store", "x.db", "--admin", "http://127.0.0.1:1"], "give one of"),
    (["export", "1", "f", "--admin", "http://127.0.0.1:1"], "takes --store or --config only"),
    (["import", "f", "--store", "x.db", "--json"], "takes --store or --config only"),
    (["list", "--store", "x.db", "--token-file", "t"], "--token-file goes with --admin"),
    (["list", "--admin", "127.0.0.1:8770"], "--admin: expected an http:// URL"),
    (["list", "--stroe", "x.db"], "unknown flag --stroe"),
    (["list", "--config", "/nonexistent.yaml"], "config error"),
])
def test_should_exit_2_with_one_line_on_wrong_usage(args, message):
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert message in one_error_line(result)


@pytest.mark.parametrize("verb", ["list", "show", "diff", "export", "import", "restore"])
def test_should_print_help_and_exit_0_for_every_command(verb):
    result = run(verb, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: tidemark checkpoints {verb}")
    assert "--store PATH" in result.stdout


def test_should_print_an_overview_and_exit_0_with_help():
    result = run("--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: tidemark checkpoints ")
    top = subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=30)
    assert "checkpoints    list, show, diff, export and import checkpoints" in top.stdout
