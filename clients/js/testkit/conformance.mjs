// Runs tests/conformance/cases.json's cases through the client's public API,
// as tests/conformance/README.md specifies. Anything in a case this runner
// does not know (an op, an argument, a check) fails the case rather than
// being skipped, so the suite cannot pass by ignoring part of a case.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import path from "node:path";

import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  TidemarkClient,
  TidemarkError,
  UnauthenticatedError,
} from "../src/index.js";
import { REPO } from "./sidecar.mjs";

/** $TIDEMARK_CONFORMANCE_CASES, or the repository's tests/conformance/cases.json. */
export function casesPath() {
  return process.env.TIDEMARK_CONFORMANCE_CASES || path.join(REPO, "tests", "conformance", "cases.json");
}

export function loadSuite(file = casesPath()) {
  const suite = JSON.parse(readFileSync(file, "utf8"));
  if (suite.version !== 1) throw new Error(`${file}: version ${suite.version}, this runner knows 1`);
  if (!Array.isArray(suite.cases) || suite.cases.length === 0) throw new Error(`${file}: no cases`);
  if (typeof suite.sidecar?.token !== "string") throw new Error(`${file}: sidecar.token missing`);
  return suite;
}

/** The case's fresh client: token "valid" (default), "none" or "wrong". */
export function clientFor(kase, suite, baseUrl) {
  const mode = kase.client?.token ?? "valid";
  const unknown = Object.keys(kase.client ?? {}).filter((k) => k !== "token");
  if (unknown.length) throw new Error(`case ${kase.name}: unknown client settings ${unknown}`);
  switch (mode) {
    case "valid":
      return new TidemarkClient({ baseUrl, token: suite.sidecar.token });
    case "none":
      return new TidemarkClient({ baseUrl });
    case "wrong":
      return new TidemarkClient({ baseUrl, token: `wrong-${suite.sidecar.token}` });
    default:
      throw new Error(`case ${kase.name}: unknown client token mode ${JSON.stringify(mode)}`);
  }
}

// Bytes from a value given as {"value"}, {"value_base64"} or {"value_repeat"}.
function bytesOf(spec, where) {
  const given = ["value", "value_base64", "value_repeat"].filter((k) => spec[k] !== undefined);
  if (given.length !== 1) throw new Error(`${where}: needs exactly one of value, value_base64, value_repeat`);
  if (spec.value !== undefined) {
    if (typeof spec.value !== "string") throw new Error(`${where}: value must be text`);
    return Buffer.from(spec.value, "utf8");
  }
  if (spec.value_base64 !== undefined) return Buffer.from(spec.value_base64, "base64");
  const { byte, count, ...rest } = spec.value_repeat;
  if (Object.keys(rest).length) throw new Error(`${where}: value_repeat: unknown ${Object.keys(rest)}`);
  const b = typeof byte === "number" ? byte : Buffer.from(byte, "utf8");
  if (typeof byte === "string" && b.length !== 1) throw new Error(`${where}: value_repeat.byte must be one byte`);
  if (!Number.isInteger(count) || count < 0) throw new Error(`${where}: value_repeat.count must be >= 0`);
  return Buffer.alloc(count, typeof byte === "number" ? byte : b[0]);
}

// commit's put values: text, or an object in one of the value forms.
function putValue(value, where) {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value && typeof value === "object") return bytesOf(value, where);
  throw new Error(`${where}: a put value must be text or {value|value_base64|value_repeat}`);
}

// "$name" strings (at any depth) replaced by what a step saved.
function substitute(value, saved, where) {
  if (typeof value === "string") {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
    if (!m) return value;
    if (!(m[1] in saved)) throw new Error(`${where}: ${value} was not saved by an earlier step`);
    return saved[m[1]];
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, saved, where));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, saved, where)]));
  }
  return value;
}

// The client (instance scope), or its partition scope for a step with a
// "partition": {group, topic, partition} argument.
function scope(c, a, where) {
  if (a.partition === undefined) return c;
  const { group, topic, partition, ...rest } = a.partition;
  if (Object.keys(rest).length) throw new Error(`${where}: partition: unknown ${Object.keys(rest)}`);
  return c.partition(group, topic, partition);
}

// Each op: the arguments it takes, and its call through the client's API.
const OPS = {
  put_state: {
    args: ["key", "value", "value_base64", "value_repeat", "content_type", "if_match", "partition"],
    call: (c, a, where) =>
      scope(c, a, where).putState(a.key, bytesOf(a, where), { contentType: a.content_type, ifMatch: a.if_match }),
  },
  get_state: {
    args: ["key", "view", "partition"],
    call: (c, a, where) => scope(c, a, where).getState(a.key, { view: a.view }),
  },
  delete_state: {
    args: ["key", "if_match", "partition"],
    call: (c, a, where) => scope(c, a, where).deleteState(a.key, { ifMatch: a.if_match }),
  },
  list_state: {
    args: ["prefix", "view", "partition"],
    call: (c, a, where) => scope(c, a, where).listState({ prefix: a.prefix, view: a.view }),
  },
  mark_offsets: { args: ["offsets"], call: (c, a) => c.markOffsets(a.offsets) },
  commit: {
    args: ["offsets", "put", "delete"],
    call: (c, a, where) =>
      c.commit({
        offsets: a.offsets ?? [],
        put: Object.fromEntries(
          Object.entries(a.put ?? {}).map(([k, v]) => [k, putValue(v, `${where}: put ${k}`)]),
        ),
        delete: a.delete ?? [],
      }),
  },
  checkpoint: { args: [], call: (c) => c.checkpoint() },
  checkpoints: { args: [], call: (c) => c.checkpoints() },
  get_checkpoint: { args: ["id"], call: (c, a) => c.getCheckpoint(a.id) },
};

// The typed error each status must arrive as.
const ERROR_CLASS = {
  400: BadRequestError,
  401: UnauthenticatedError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
};

function etagOf(op, result) {
  if (op === "put_state") return result;
  if (op === "get_state") {
    assert.notEqual(result, null, "get_state found nothing");
    return result.etag;
  }
  throw new Error(`${op} has no ETag`);
}

// Checks of a successful result, by the name EXPECT gives them.
const CHECKS = {
  value(op, result, want) {
    assert.notEqual(result, null, "get_state found nothing");
    assert.equal(result.value.toString("base64"), Buffer.from(want, "utf8").toString("base64"),
      `value ${JSON.stringify(result.value.toString("utf8"))} is not ${JSON.stringify(want)}`);
  },
  value_base64(op, result, want) {
    assert.notEqual(result, null, "get_state found nothing");
    assert.equal(result.value.toString("base64"), want);
  },
  value_repeat(op, result, want) {
    assert.notEqual(result, null, "get_state found nothing");
    assert.ok(result.value.equals(bytesOf({ value_repeat: want }, "value_repeat")), "value_repeat differs");
  },
  content_type(op, result, want) {
    assert.notEqual(result, null, "get_state found nothing");
    assert.equal(result.contentType, want);
  },
  etag(op, result, want) {
    assert.equal(etagOf(op, result), want);
  },
  absent(op, result, want) {
    if (want) assert.equal(result, null, `expected nothing, got ${JSON.stringify(result)}`);
    else assert.notEqual(result, null);
  },
  keys(op, result, want) {
    assert.deepEqual(result.map((e) => e.key), want);
  },
  partitions(op, result, want) {
    assert.equal(result.partitions, want);
  },
  count_at_least(op, result, want) {
    assert.ok(Array.isArray(result), "result is not a list");
    assert.ok(result.length >= want, `${result.length} < ${want}`);
  },
  trigger(op, result, want) {
    assert.equal(result.trigger, want);
  },
  partition_entry(op, result, want) {
    const { key, group, topic, partition, ...rest } = want;
    assert.equal(Object.keys(rest).length, 0, `partition_entry: unknown ${Object.keys(rest)}`);
    const found = result.state.some(
      (s) =>
        s.key === key &&
        s.partition !== null &&
        s.partition.group === group &&
        s.partition.topic === topic &&
        s.partition.partition === partition,
    );
    assert.ok(found, `no state entry ${JSON.stringify(want)} in ${JSON.stringify(result.state)}`);
  },
};

// Shape of every op's successful result, whatever the case checks.
function checkShape(op, result) {
  switch (op) {
    case "put_state":
      assert.equal(typeof result, "string", "put_state answers an ETag");
      assert.ok(result.length > 0, "empty ETag");
      break;
    case "get_state":
      if (result !== null) {
        assert.ok(Buffer.isBuffer(result.value), "value is a Buffer");
        assert.equal(typeof result.etag, "string");
      }
      break;
    case "delete_state":
      assert.equal(result, undefined);
      break;
    case "list_state":
      assert.ok(Array.isArray(result));
      for (const e of result) {
        assert.equal(typeof e.key, "string");
        assert.equal(typeof e.size, "number");
        assert.equal(typeof e.etag, "string");
      }
      break;
    case "mark_offsets":
    case "commit":
      assert.equal(typeof result.seal, "number");
      assert.equal(typeof result.partitions, "number");
      break;
    case "checkpoint":
      assert.equal(typeof result, "string", "checkpoint answers an id string");
      break;
    case "checkpoints":
      assert.ok(Array.isArray(result));
      for (const s of result) assert.equal(typeof s.id, "string");
      break;
    case "get_checkpoint":
      assert.equal(typeof result.id, "string");
      assert.ok(Array.isArray(result.offsets) && Array.isArray(result.state));
      break;
    default:
      break;
  }
}

async function runStep(client, step, saved, where) {
  const { op, expect, ...rawArgs } = step;
  const spec = OPS[op];
  if (!spec) throw new Error(`${where}: unknown op ${JSON.stringify(op)}`);
  const unknown = Object.keys(rawArgs).filter((k) => !spec.args.includes(k));
  if (unknown.length) throw new Error(`${where}: ${op} takes no ${unknown.join(", ")}`);
  if (!expect || typeof expect !== "object") throw new Error(`${where}: no expect`);
  const args = substitute(rawArgs, saved, where);

  if (expect.error !== undefined) {
    const extra = Object.keys(expect).filter((k) => k !== "error");
    if (extra.length) throw new Error(`${where}: an error expectation takes no ${extra}`);
    const { status, code, ...rest } = expect.error;
    if (Object.keys(rest).length) throw new Error(`${where}: unknown error fields ${Object.keys(rest)}`);
    let result;
    let error;
    try {
      result = await spec.call(client, args, where);
    } catch (e) {
      error = e;
    }
    assert.ok(error !== undefined, `expected error ${status} ${code}, got ${JSON.stringify(result)}`);
    assert.ok(error instanceof TidemarkError, `expected a TidemarkError, got ${error?.stack ?? error}`);
    assert.equal(error.status, status, `status of ${error.message}`);
    assert.equal(error.code, code, `code of ${error.message}`);
    const Class = ERROR_CLASS[status];
    if (Class) assert.ok(error instanceof Class, `${error.name} is not a ${Class.name}`);
    return;
  }

  const result = await spec.call(client, args, where);
  checkShape(op, result);
  for (const [name, raw] of Object.entries(expect)) {
    if (name === "save") continue;
    const check = CHECKS[name];
    if (!check) throw new Error(`${where}: unknown check ${JSON.stringify(name)}`);
    check(op, result, substitute(raw, saved, `${where}: ${name}`));
  }
  for (const [kind, name] of Object.entries(expect.save ?? {})) {
    if (kind === "etag") {
      const etag = etagOf(op, result);
      assert.equal(typeof etag, "string", "no ETag to save");
      saved[name] = etag;
    } else if (kind === "id") {
      assert.equal(op, "checkpoint", "only checkpoint saves an id");
      saved[name] = result;
    } else {
      throw new Error(`${where}: unknown save ${JSON.stringify(kind)}`);
    }
  }
}

/** Runs one case's steps with a fresh client against `baseUrl`. */
export async function runCase(kase, suite, baseUrl) {
  const extra = Object.keys(kase).filter((k) => !["name", "about", "steps", "client"].includes(k));
  if (extra.length) throw new Error(`case ${kase.name}: unknown fields ${extra}`);
  if (!Array.isArray(kase.steps) || kase.steps.length === 0) throw new Error(`case ${kase.name}: no steps`);
  const client = clientFor(kase, suite, baseUrl);
  const saved = {};
  for (const [i, step] of kase.steps.entries()) {
    const where = `${kase.name} step ${i + 1} (${step.op})`;
    try {
      await runStep(client, step, saved, where);
    } catch (e) {
      if (e.message.startsWith(where)) throw e;
      const failure = new Error(`${where}: ${e.message}`, { cause: e });
      if (e instanceof assert.AssertionError) Object.assign(failure, { actual: e.actual, expected: e.expected });
      throw failure;
    }
  }
}
