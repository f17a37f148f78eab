// Unit tests: key encoding, error mapping, and what the client puts on the
// wire, against a local stand-in server (no sidecar needed).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";

import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  TidemarkClient,
  TidemarkError,
  TransportError,
  UnauthenticatedError,
  encodeKey,
} from "../src/index.js";
import { errorFromResponse } from "../src/errors.js";
import { freePort } from "../testkit/sidecar.mjs";

describe("encodeKey", () => {
  test("percent-encodes each segment, keeps the slashes", () => {
    assert.equal(encodeKey("a/b"), "a/b");
    assert.equal(encodeKey("reserved/a:b@c/d=e+f~g"), "reserved/a%3Ab%40c/d%3De%2Bf~g");
    assert.equal(encodeKey("sp ace/x%y"), "sp%20ace/x%25y");
    assert.equal(encodeKey("ü/€"), "%C3%BC/%E2%82%AC");
    assert.equal(encodeKey("a..b/.c"), "a..b/.c");
    assert.equal(encodeKey("a?b#c"), "a%3Fb%23c");
  });

  test("refuses '.' and '..' segments, which URL parsing would remove", () => {
    for (const key of ["invalid/../escape", "./a", "a/.", ".."]) {
      assert.throws(() => encodeKey(key), (e) => {
        assert.ok(e instanceof BadRequestError);
        assert.equal(e.status, 400);
        assert.equal(e.code, "invalid_key");
        return true;
      });
    }
  });

  test("refuses a key that is not a string", () => {
    assert.throws(() => encodeKey(42), TypeError);
    assert.throws(() => encodeKey(undefined), TypeError);
  });
});

describe("errorFromResponse", () => {
  const body = (code, message) => JSON.stringify({ error: { code, message } });

  test("maps statuses to their classes, with the body's code", () => {
    const cases = [
      [400, "invalid_key", BadRequestError],
      [401, "unauthenticated", UnauthenticatedError],
      [404, "not_found", NotFoundError],
      [409, "precondition_failed", ConflictError],
      [413, "payload_too_large", PayloadTooLargeError],
      [503, "unavailable", TidemarkError],
      [504, "checkpoint_timeout", TidemarkError],
    ];
    for (const [status, code, Class] of cases) {
      const e = errorFromResponse(status, body(code, "why"), "GET /x");
      assert.ok(e instanceof Class, `${status}: ${e.name}`);
      assert.ok(e instanceof TidemarkError);
      assert.ok(!(e instanceof TransportError));
      assert.equal(e.status, status);
      assert.equal(e.code, code);
      assert.equal(e.name, Class.name);
      assert.match(e.message, new RegExp(`^GET /x: ${status} ${code}: why$`));
    }
  });

  test("a body that is not the API's error document gives code http_<status>", () => {
    for (const text of ["<html>bad gateway</html>", "", "{\"error\": 3}", "[1]", "null"]) {
      const e = errorFromResponse(502, text);
      assert.equal(e.constructor, TidemarkError);
      assert.equal(e.status, 502);
      assert.equal(e.code, "http_502");
    }
    assert.equal(errorFromResponse(404, "nope").constructor, NotFoundError);
  });
});

describe("TidemarkClient on the wire", () => {
  let server;
  let baseUrl;
  let requests;
  let answer; // (req, body) => {status, headers, body}
  let tmp;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "tidemark-js-unit-"));
    server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        requests.push({ method: req.method, url: req.url, headers: req.headers, body });
        const a = answer(req, body);
        if (a === null) return; // never answer
        res.writeHead(a.status ?? 200, a.headers ?? {});
        res.end(a.body ?? "");
      });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${server.address().port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(tmp, { recursive: true, force: true });
  });

  beforeEach(() => {
    requests = [];
    answer = () => ({ status: 204 });
  });

  const json = (status, doc, headers = {}) => ({
    status,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(doc),
  });
  const apiError = (status, code) => json(status, { error: { code, message: `${code}!` } });

  test("putState sends bytes, content type, If-Match and the token; answers the ETag", async () => {
    answer = () => ({ status: 204, headers: { etag: '"abc"' } });
    const c = new TidemarkClient({ baseUrl, token: "t0k" });
    const bytes = Buffer.from([0, 1, 255, 128, 13, 10]);
    assert.equal(await c.putState("a/b:c", bytes, { ifMatch: '"old"' }), '"abc"');
    const [r] = requests;
    assert.equal(r.method, "PUT");
    assert.equal(r.url, "/v1/state/a/b%3Ac");
    assert.equal(r.headers.authorization, "Bearer t0k");
    assert.equal(r.headers["content-type"], "application/octet-stream");
    assert.equal(r.headers["if-match"], '"old"');
    assert.equal(r.headers["content-length"], "6");
    assert.deepEqual(r.body, bytes);
  });

  test("putState: strings as UTF-8, Uint8Array views as their bytes, the given content type", async () => {
    answer = () => ({ status: 204, headers: { etag: '"e"' } });
    const c = new TidemarkClient({ baseUrl });
    await c.putState("k", "héllo", { contentType: "text/plain" });
    const whole = new Uint8Array([9, 8, 7, 6, 5]);
    await c.putState("k", whole.subarray(1, 3));
    assert.equal(requests[0].headers["content-type"], "text/plain");
    assert.deepEqual(requests[0].body, Buffer.from("héllo", "utf8"));
    assert.equal(requests[0].headers["if-match"], undefined);
    assert.equal(requests[0].headers.authorization, undefined);
    assert.deepEqual(requests[1].body, Buffer.from([8, 7]));
    await assert.rejects(c.putState("k", 42), TypeError);
  });

  test("putState: 413 is a PayloadTooLargeError, 409 a ConflictError", async () => {
    const c = new TidemarkClient({ baseUrl });
    answer = () => apiError(413, "payload_too_large");
    await assert.rejects(c.putState("k", "x"), (e) => e instanceof PayloadTooLargeError && e.status === 413);
    answer = () => apiError(409, "precondition_failed");
    await assert.rejects(c.putState("k", "x", { ifMatch: '"x"' }),
      (e) => e instanceof ConflictError && e.code === "precondition_failed");
  });

  test("getState answers bytes, content type and ETag; null on 404 not_found", async () => {
    answer = () => ({ status: 200, headers: { "content-type": "text/plain", etag: '"e1"' }, body: "42" });
    const c = new TidemarkClient({ baseUrl });
    const got = await c.getState("x/y z", { view: "staged" });
    assert.equal(requests[0].method, "GET");
    assert.equal(requests[0].url, "/v1/state/x/y%20z?view=staged");
    assert.ok(Buffer.isBuffer(got.value));
    assert.equal(got.value.toString(), "42");
    assert.equal(got.contentType, "text/plain");
    assert.equal(got.etag, '"e1"');

    await c.getState("x");
    assert.equal(requests[1].url, "/v1/state/x");

    answer = () => apiError(404, "not_found");
    assert.equal(await c.getState("x"), null);
  });

  test("getState throws other errors", async () => {
    const c = new TidemarkClient({ baseUrl });
    answer = () => apiError(400, "invalid_argument");
    await assert.rejects(c.getState("x", { view: "bogus" }), BadRequestError);
    answer = () => apiError(401, "unauthenticated");
    await assert.rejects(c.getState("x"), UnauthenticatedError);
    answer = () => ({ status: 404, body: "not the API" });
    await assert.rejects(c.getState("x"), (e) => e instanceof NotFoundError && e.code === "http_404");
  });

  test("deleteState sends If-Match; 404 is a NotFoundError", async () => {
    const c = new TidemarkClient({ baseUrl });
    assert.equal(await c.deleteState("a/b", { ifMatch: '"e"' }), undefined);
    assert.equal(requests[0].method, "DELETE");
    assert.equal(requests[0].url, "/v1/state/a/b");
    assert.equal(requests[0].headers["if-match"], '"e"');
    answer = () => apiError(404, "not_found");
    await assert.rejects(c.deleteState("a/b"), (e) => e instanceof NotFoundError && e.status === 404);
  });

  test("listState encodes the query and answers {key, size, etag}", async () => {
    answer = () => json(200, { keys: [{ key: "a b", size: 3, etag: '"1"', extra: true }] });
    const c = new TidemarkClient({ baseUrl });
    assert.deepEqual(await c.listState({ prefix: "a b+c/", view: "staged" }), [
      { key: "a b", size: 3, etag: '"1"' },
    ]);
    assert.equal(requests[0].url, "/v1/state?prefix=a%20b%2Bc%2F&view=staged");
    await c.listState();
    assert.equal(requests[1].url, "/v1/state");
  });

  test("markOffsets posts the offsets array", async () => {
    answer = () => json(200, { seal: 7, partitions: 2 });
    const c = new TidemarkClient({ baseUrl });
    const result = await c.markOffsets([
      { group: "g", topic: "t", partition: 0, offset: 5 },
      { group: "g", topic: "t", partition: 1, offset: 6, leaderEpoch: 3, metadata: "m" },
    ]);
    assert.deepEqual(result, { seal: 7, partitions: 2 });
    assert.equal(requests[0].method, "POST");
    assert.equal(requests[0].url, "/v1/offsets");
    assert.equal(requests[0].headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(requests[0].body), [
      { group: "g", topic: "t", partition: 0, offset: 5 },
      { group: "g", topic: "t", partition: 1, offset: 6, leader_epoch: 3, metadata: "m" },
    ]);
    await assert.rejects(c.markOffsets({}), TypeError);
  });

  test("commit posts offsets and state, values in base64", async () => {
    answer = () => json(200, { seal: 1, partitions: 1 });
    const c = new TidemarkClient({ baseUrl });
    await c.commit({
      offsets: [{ group: "g", topic: "t", partition: 0, offset: 1 }],
      put: { "a/b": "alpha", bin: Buffer.from([0, 255]) },
      delete: ["gone"],
    });
    assert.equal(requests[0].url, "/v1/commit");
    assert.deepEqual(JSON.parse(requests[0].body), {
      offsets: [{ group: "g", topic: "t", partition: 0, offset: 1 }],
      state: { put: { "a/b": "YWxwaGE=", bin: "AP8=" }, delete: ["gone"] },
    });
    await c.commit({ put: new Map([["m", "x"]]) });
    assert.deepEqual(JSON.parse(requests[1].body), { offsets: [], state: { put: { m: "eA==" }, delete: [] } });
    await c.commit();
    assert.deepEqual(JSON.parse(requests[2].body), { offsets: [], state: { put: {}, delete: [] } });
  });

  test("checkpoint, checkpoints and getCheckpoint", async () => {
    const summary = {
      id: "1795708078654000", created_at_ms: 1795708078654, trigger: "request",
      partitions: 1, state_keys: 2, state_bytes: 3,
    };
    answer = (req) => {
      if (req.method === "POST") return json(201, { id: "1795708078654000" });
      if (req.url === "/v1/checkpoints") return json(200, { checkpoints: [summary] });
      return json(200, {
        ...summary,
        job_id: "j",
        offsets: [{ group: "g", topic: "t", partition: 0, offset: 9, leader_epoch: -1, metadata: null }],
        state: [
          { key: "k", size: 3, sha256: "ab", content_type: "text/plain" },
          { key: "p", size: 1, sha256: "cd", content_type: "x/y", partition: { group: "g/1", topic: "t", partition: 2 } },
        ],
      });
    };
    const c = new TidemarkClient({ baseUrl });
    assert.equal(await c.checkpoint(), "1795708078654000");
    assert.equal(requests[0].method, "POST");
    assert.equal(requests[0].url, "/v1/checkpoints");
    const expected = {
      id: "1795708078654000", createdAtMs: 1795708078654, trigger: "request",
      partitions: 1, stateKeys: 2, stateBytes: 3,
    };
    assert.deepEqual(await c.checkpoints(), [expected]);
    assert.deepEqual(await c.getCheckpoint("1795708078654000"), {
      ...expected,
      jobId: "j",
      offsets: [{ group: "g", topic: "t", partition: 0, offset: 9, leaderEpoch: -1, metadata: null }],
      state: [
        { key: "k", size: 3, sha256: "ab", contentType: "text/plain", partition: null },
        { key: "p", size: 1, sha256: "cd", contentType: "x/y", partition: { group: "g/1", topic: "t", partition: 2 } },
      ],
    });
    assert.equal(requests[2].url, "/v1/checkpoints/1795708078654000");
  });

  test("partition(): state calls on the partition's routes, group and topic one segment each", async () => {
    answer = (req) => {
      if (req.method === "PUT") return { status: 204, headers: { etag: '"e"' }, body: "" };
      if (req.method === "DELETE") return { status: 204, body: "" };
      if (req.url.includes("/state?") || req.url.endsWith("/state")) return json(200, { keys: [] });
      return { status: 200, headers: { "content-type": "text/plain", etag: '"e"' }, body: "v" };
    };
    const c = new TidemarkClient({ baseUrl });
    const p = c.partition("team/a b", "demo", 3);
    assert.deepEqual([p.group, p.topic, p.partition], ["team/a b", "demo", 3]);
    const base = "/v1/groups/team%2Fa%20b/topics/demo/partitions/3/state";
    assert.equal(await p.putState("k/x y", "v", { ifMatch: '"e0"' }), '"e"');
    assert.equal(requests[0].url, `${base}/k/x%20y`);
    assert.equal((await p.getState("k", { view: "staged" })).value.toString(), "v");
    assert.equal(requests[1].url, `${base}/k?view=staged`);
    await p.deleteState("k");
    assert.equal(requests[2].method, "DELETE");
    assert.equal(requests[2].url, `${base}/k`);
    assert.deepEqual(await p.listState({ prefix: "a/" }), []);
    assert.equal(requests[3].url, `${base}?prefix=a%2F`);
    // Dot segments cannot be sent: refused as the sidecar would refuse them.
    const invalid = (e) => e instanceof BadRequestError && e.status === 400 && e.code === "invalid_partition";
    await assert.rejects(c.partition("..", "demo", 0).getState("k"), invalid);
    await assert.rejects(c.partition("g", ".", 0).listState(), invalid);
    assert.equal(requests.length, 4);
    assert.throws(() => c.partition("g", "t", 1.5), TypeError);
    assert.throws(() => c.partition("g", 7, 0), TypeError);
  });

  test("an answer that is not JSON, or not of the expected shape", async () => {
    const c = new TidemarkClient({ baseUrl });
    const malformed = (e) => e instanceof TidemarkError && e.code === "malformed_answer" && e.status === 200;
    answer = () => ({ status: 200, body: "<html>" });
    await assert.rejects(c.checkpoints(), malformed);
    answer = () => json(200, { nothing: [] });
    await assert.rejects(c.checkpoints(), malformed);
    await assert.rejects(c.listState(), malformed);
    await assert.rejects(c.checkpoint(), malformed);
    answer = () => json(200, { keys: [3] });
    await assert.rejects(c.listState(), malformed);
  });

  test("tokenFile is read for every request, without its trailing newline", async () => {
    const file = path.join(tmp, "token");
    await writeFile(file, "first\n");
    const c = new TidemarkClient({ baseUrl, tokenFile: file });
    await c.deleteState("k");
    await writeFile(file, "second \r\n");
    await c.deleteState("k");
    assert.equal(requests[0].headers.authorization, "Bearer first");
    assert.equal(requests[1].headers.authorization, "Bearer second");

    await writeFile(file, "\n");
    await assert.rejects(c.deleteState("k"), (e) => e instanceof TidemarkError && e.code === "token_file");
    const missing = new TidemarkClient({ baseUrl, tokenFile: path.join(tmp, "missing") });
    await assert.rejects(missing.deleteState("k"), (e) => e instanceof TidemarkError && e.code === "token_file");
    assert.equal(requests.length, 2);
  });

  test("a timeout is a TransportError with code timeout", async () => {
    answer = () => null;
    const c = new TidemarkClient({ baseUrl, timeoutMs: 200 });
    await assert.rejects(c.checkpoint(), (e) => {
      assert.ok(e instanceof TransportError);
      assert.equal(e.status, 0);
      assert.equal(e.code, "timeout");
      return true;
    });
  });

  test("a refused connection is a TransportError with code transport", async () => {
    const port = await freePort(); // nothing listens there now
    const c = new TidemarkClient({ baseUrl: `http://127.0.0.1:${port}` });
    await assert.rejects(c.getState("k"), (e) => {
      assert.ok(e instanceof TransportError, e.stack);
      assert.ok(!(e instanceof NotFoundError));
      assert.equal(e.status, 0);
      assert.equal(e.code, "transport");
      assert.match(e.message, /ECONNREFUSED/);
      return true;
    });
  });

  test("a '..' key is refused without a request", async () => {
    const c = new TidemarkClient({ baseUrl });
    await assert.rejects(c.putState("a/../b", "x"), (e) => e instanceof BadRequestError && e.code === "invalid_key");
    await assert.rejects(c.getState("a/./b"), BadRequestError);
    assert.equal(requests.length, 0);
  });

  test("baseUrl: trailing slash dropped, default port 8770", async () => {
    answer = () => json(200, { keys: [] });
    const c = new TidemarkClient({ baseUrl: `${baseUrl}/` });
    assert.equal(c.baseUrl, baseUrl);
    await c.listState();
    assert.equal(requests[0].url, "/v1/state");
    assert.equal(new TidemarkClient().baseUrl, "http://127.0.0.1:8770");
  });
});

describe("TidemarkClient options", () => {
  test("refuses bad options", () => {
    assert.throws(() => new TidemarkClient({ token: "a", tokenFile: "/x" }), TypeError);
    assert.throws(() => new TidemarkClient({ token: "" }), TypeError);
    assert.throws(() => new TidemarkClient({ baseUrl: "not a url" }), TypeError);
    assert.throws(() => new TidemarkClient({ baseUrl: "ftp://h" }), TypeError);
    assert.throws(() => new TidemarkClient({ timeoutMs: 0 }), TypeError);
  });
});
