// TidemarkClient: the sidecar's local HTTP API (state, offsets, checkpoints)
// over Node's built-in fetch. No dependencies.

import { readFile } from "node:fs/promises";
import { Buffer } from "node:buffer";

import {
  BadRequestError,
  NotFoundError,
  TidemarkError,
  TransportError,
  errorFromResponse,
} from "./errors.js";

export const DEFAULT_BASE_URL = "http://127.0.0.1:8770";
// Above the sidecar's default checkpoint.timeout (60s): checkpoint() answers
// only once the checkpoint is durable.
export const DEFAULT_TIMEOUT_MS = 90_000;

/**
 * A state key as a URL path: each "/"-separated segment percent-encoded with
 * encodeURIComponent, joined by "/".
 *
 * A "." or ".." segment cannot be sent: URL parsing (fetch's included) removes
 * such segments, encoded or not, so the request would reach another key. The
 * sidecar refuses those keys (400 invalid_key); this refuses them the same way
 * without sending anything.
 * @param {string} key
 * @returns {string}
 */
export function encodeKey(key) {
  if (typeof key !== "string") throw new TypeError(`key must be a string, got ${typeof key}`);
  return key
    .split("/")
    .map((segment) => {
      if (segment === "." || segment === "..") {
        throw new BadRequestError(
          `${JSON.stringify(key)}: key segments must not be '.' or '..' (refused before sending)`,
          { status: 400, code: "invalid_key" },
        );
      }
      return encodeURIComponent(segment);
    })
    .join("/");
}

/**
 * The URL path of a partition's state scope,
 * /v1/groups/{group}/topics/{topic}/partitions/{partition}/state, with group
 * and topic each percent-encoded as one segment ("/" included). The sidecar
 * decides what a valid group, topic and partition are (400 invalid_partition).
 *
 * A group or topic "." or ".." cannot be sent (URL parsing removes such
 * segments, encoded or not): it is refused as the sidecar refuses a bad
 * partition (400 invalid_partition) without sending anything.
 * @param {string} group
 * @param {string} topic
 * @param {number} partition an integer
 * @returns {string}
 */
export function encodePartition(group, topic, partition) {
  checkPartitionTypes(group, topic, partition);
  for (const [name, segment] of [["group", group], ["topic", topic]]) {
    if (segment === "." || segment === "..") {
      throw new BadRequestError(
        `${name} ${JSON.stringify(segment)} cannot be sent in a URL path (refused before sending)`,
        { status: 400, code: "invalid_partition" },
      );
    }
  }
  return `/v1/groups/${encodeURIComponent(group)}/topics/${encodeURIComponent(topic)}` +
    `/partitions/${partition}/state`;
}

function checkPartitionTypes(group, topic, partition) {
  if (typeof group !== "string") throw new TypeError(`group must be a string, got ${typeof group}`);
  if (typeof topic !== "string") throw new TypeError(`topic must be a string, got ${typeof topic}`);
  if (!Number.isInteger(partition)) throw new TypeError(`partition must be an integer, got ${partition}`);
}

/**
 * Bytes of a state value: strings as UTF-8, Uint8Array (Buffer included),
 * ArrayBuffer and other ArrayBuffer views as they are.
 * @param {unknown} value
 * @returns {Buffer}
 */
export function toBytes(value) {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError("value must be a string, Uint8Array, Buffer or ArrayBuffer");
}

function query(params) {
  const parts = [];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

// The API's offset document from {group, topic, partition, offset, leaderEpoch?, metadata?}.
function offsetDocument(o) {
  if (!o || typeof o !== "object") throw new TypeError("each offset must be an object");
  const doc = { group: o.group, topic: o.topic, partition: o.partition, offset: o.offset };
  const epoch = o.leaderEpoch ?? o.leader_epoch;
  if (epoch !== undefined) doc.leader_epoch = epoch;
  if (o.metadata !== undefined) doc.metadata = o.metadata;
  return doc;
}

function offsetsDocument(offsets) {
  if (!Array.isArray(offsets)) throw new TypeError("offsets must be an array");
  return offsets.map(offsetDocument);
}

// doc[name], which must be a list of objects.
function list(doc, name) {
  const items = doc[name];
  if (!Array.isArray(items) || !items.every((o) => o !== null && typeof o === "object")) {
    throw new TypeError(`no "${name}" list of objects`);
  }
  return items;
}

function sealResult(doc) {
  return { seal: doc.seal, partitions: doc.partitions };
}

function checkpointSummary(m) {
  return {
    id: m.id,
    createdAtMs: m.created_at_ms,
    trigger: m.trigger,
    partitions: m.partitions,
    stateKeys: m.state_keys,
    stateBytes: m.state_bytes,
  };
}

function checkpointDetail(m) {
  return {
    ...checkpointSummary(m),
    jobId: m.job_id,
    offsets: list(m, "offsets").map((o) => ({
      group: o.group,
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      leaderEpoch: o.leader_epoch,
      metadata: o.metadata ?? null,
    })),
    state: list(m, "state").map((s) => ({
      key: s.key,
      size: s.size,
      sha256: s.sha256,
      contentType: s.content_type,
      // {group, topic, partition} of partition-scoped state; null for instance state.
      partition: s.partition
        ? { group: s.partition.group, topic: s.partition.topic, partition: s.partition.partition }
        : null,
    })),
  };
}

export class TidemarkClient {
  #baseUrl;
  #token;
  #tokenFile;
  #timeoutMs;

  /**
   * @param {{baseUrl?: string, token?: string, tokenFile?: string, timeoutMs?: number}} [options]
   */
  constructor({ baseUrl = DEFAULT_BASE_URL, token, tokenFile, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    if (token !== undefined && tokenFile !== undefined) {
      throw new TypeError("give token or tokenFile, not both");
    }
    if (token !== undefined && (typeof token !== "string" || token === "")) {
      throw new TypeError("token must be a non-empty string");
    }
    if (tokenFile !== undefined && (typeof tokenFile !== "string" || tokenFile === "")) {
      throw new TypeError("tokenFile must be a non-empty path");
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError("timeoutMs must be a positive number");
    }
    const url = new URL(baseUrl); // throws on a malformed URL
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`baseUrl must be http:// or https://, got ${baseUrl}`);
    }
    this.#baseUrl = String(baseUrl).replace(/\/+$/, "");
    this.#token = token;
    this.#tokenFile = tokenFile;
    this.#timeoutMs = timeoutMs;
  }

  get baseUrl() {
    return this.#baseUrl;
  }

  // The bearer token: the given one, or the token file's content read now (so
  // a rotated file takes effect), without trailing newlines and spaces, as the
  // sidecar reads it.
  async #currentToken() {
    if (this.#tokenFile === undefined) return this.#token;
    let text;
    try {
      text = await readFile(this.#tokenFile, "utf8");
    } catch (err) {
      throw new TidemarkError(`tokenFile ${this.#tokenFile}: ${err.message}`, {
        code: "token_file",
        cause: err,
      });
    }
    const token = text.replace(/[\r\n ]+$/, "");
    if (token === "") {
      throw new TidemarkError(`tokenFile ${this.#tokenFile} is empty`, { code: "token_file" });
    }
    return token;
  }

  // Sends a request; answers with the fetch Response and its body's bytes when
  // the status is 2xx, throws the matching TidemarkError otherwise.
  async #send(method, path, { body, headers = {} } = {}) {
    const what = `${method} ${path}`;
    const h = { ...headers };
    const token = await this.#currentToken();
    if (token !== undefined) h.authorization = `Bearer ${token}`;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let response;
    let bytes;
    try {
      response = await fetch(this.#baseUrl + path, { method, headers: h, body, signal, redirect: "manual" });
      bytes = Buffer.from(await response.arrayBuffer());
    } catch (err) {
      if (signal.aborted) {
        throw new TransportError(`${what}: no answer within ${this.#timeoutMs} ms`, {
          code: "timeout",
          cause: err,
        });
      }
      const detail = err?.cause?.message ?? err?.message ?? String(err);
      throw new TransportError(`${what}: ${detail}`, { cause: err });
    }
    if (response.status < 200 || response.status > 299) {
      throw errorFromResponse(response.status, bytes.toString("utf8"), what);
    }
    return { response, bytes };
  }

  // Sends `document` (undefined: no body) as JSON and answers decode(the JSON
  // answer); an answer that is not JSON, or not of the expected shape, is a
  // TidemarkError with code "malformed_answer".
  async #json(method, path, document, decode) {
    const options =
      document === undefined
        ? {}
        : { body: JSON.stringify(document), headers: { "content-type": "application/json" } };
    const { response, bytes } = await this.#send(method, path, options);
    try {
      const doc = JSON.parse(bytes.toString("utf8"));
      if (doc === null || typeof doc !== "object") throw new TypeError("not a JSON object");
      return decode(doc);
    } catch (err) {
      throw new TidemarkError(`${method} ${path}: unexpected answer: ${err.message}`, {
        status: response.status,
        code: "malformed_answer",
        cause: err,
      });
    }
  }

  /**
   * Stages `value` under `key`; answers the new ETag.
   * @param {string} key
   * @param {Uint8Array|ArrayBuffer|string} value strings are sent as UTF-8
   * @param {{contentType?: string, ifMatch?: string}} [options]
   * @returns {Promise<string>}
   */
  async putState(key, value, options = {}) {
    return this.#putState("/v1/state", key, value, options);
  }

  /**
   * The value under `key` in the sealed view (default) or the staged one;
   * null when there is none.
   * @param {string} key
   * @param {{view?: "sealed"|"staged"}} [options]
   */
  async getState(key, options = {}) {
    return this.#getState("/v1/state", key, options);
  }

  /**
   * Deletes `key` (staged until the next seal). NotFoundError when it has no value.
   * @param {string} key
   * @param {{ifMatch?: string}} [options]
   * @returns {Promise<void>}
   */
  async deleteState(key, options = {}) {
    return this.#deleteState("/v1/state", key, options);
  }

  /**
   * Instance keys (in key order) with their size and ETag; partition-scoped
   * keys are listed by partition(...).listState().
   * @param {{prefix?: string, view?: "sealed"|"staged"}} [options]
   */
  async listState(options = {}) {
    return this.#listState("/v1/state", options);
  }

  /**
   * The partition-scoped state of one partition of one consumer group: the
   * same putState/getState/deleteState/listState (same arguments, results and
   * errors), on keys separate from the instance keys and every other
   * partition's. A bad group, topic or partition rejects with BadRequestError
   * (400 invalid_partition) when a call is made.
   * @param {string} group
   * @param {string} topic
   * @param {number} partition
   * @returns {PartitionState}
   */
  partition(group, topic, partition) {
    checkPartitionTypes(group, topic, partition);
    const base = () => encodePartition(group, topic, partition);
    return new PartitionState(group, topic, partition, {
      putState: async (key, value, options = {}) => this.#putState(base(), key, value, options),
      getState: async (key, options = {}) => this.#getState(base(), key, options),
      deleteState: async (key, options = {}) => this.#deleteState(base(), key, options),
      listState: async (options = {}) => this.#listState(base(), options),
    });
  }

  async #putState(base, key, value, { contentType, ifMatch } = {}) {
    const path = `${base}/${encodeKey(key)}`;
    const headers = { "content-type": contentType ?? "application/octet-stream" };
    if (ifMatch !== undefined) headers["if-match"] = ifMatch;
    const { response } = await this.#send("PUT", path, { body: toBytes(value), headers });
    return response.headers.get("etag");
  }

  async #getState(base, key, { view } = {}) {
    const path = `${base}/${encodeKey(key)}${query({ view })}`;
    try {
      const { response, bytes } = await this.#send("GET", path);
      return {
        value: bytes,
        contentType: response.headers.get("content-type"),
        etag: response.headers.get("etag"),
      };
    } catch (err) {
      if (err instanceof NotFoundError && err.code === "not_found") return null;
      throw err;
    }
  }

  async #deleteState(base, key, { ifMatch } = {}) {
    const headers = {};
    if (ifMatch !== undefined) headers["if-match"] = ifMatch;
    await this.#send("DELETE", `${base}/${encodeKey(key)}`, { headers });
  }

  async #listState(base, { prefix, view } = {}) {
    return this.#json("GET", `${base}${query({ prefix, view })}`, undefined, (doc) =>
      list(doc, "keys").map(({ key, size, etag }) => ({ key, size, etag })),
    );
  }

  /**
   * Marks offsets processed, sealing every staged write together with them.
   * @param {Array<{group: string, topic: string, partition: number, offset: number,
   *   leaderEpoch?: number, metadata?: string|null}>} offsets
   * @returns {Promise<{seal: number, partitions: number}>}
   */
  async markOffsets(offsets) {
    return this.#json("POST", "/v1/offsets", offsetsDocument(offsets), sealResult);
  }

  /**
   * Offsets and state changes in one request, sealed together.
   * @param {{offsets?: Array<object>, put?: Record<string, Uint8Array|string>|Map<string, Uint8Array|string>,
   *   delete?: string[]}} [commit]
   * @returns {Promise<{seal: number, partitions: number}>}
   */
  async commit({ offsets = [], put = {}, delete: deletes = [] } = {}) {
    const entries = put instanceof Map ? [...put.entries()] : Object.entries(put);
    const puts = {};
    for (const [key, value] of entries) puts[key] = toBytes(value).toString("base64");
    if (!Array.isArray(deletes)) throw new TypeError("delete must be an array of keys");
    const doc = { offsets: offsetsDocument(offsets), state: { put: puts, delete: [...deletes] } };
    return this.#json("POST", "/v1/commit", doc, sealResult);
  }

  /**
   * Takes a checkpoint now; answers its id once it is durable.
   * @returns {Promise<string>}
   */
  async checkpoint() {
    return this.#json("POST", "/v1/checkpoints", undefined, (doc) => {
      if (typeof doc.id !== "string") throw new TypeError('no "id" string');
      return doc.id;
    });
  }

  /** The retained checkpoints' summaries. */
  async checkpoints() {
    return this.#json("GET", "/v1/checkpoints", undefined, (doc) =>
      list(doc, "checkpoints").map(checkpointSummary),
    );
  }

  /**
   * One retained checkpoint with its offsets and state keys. NotFoundError when
   * it is not retained.
   * @param {string} id
   */
  async getCheckpoint(id) {
    const path = `/v1/checkpoints/${encodeURIComponent(String(id))}`;
    return this.#json("GET", path, undefined, checkpointDetail);
  }
}

/**
 * The state of one partition of one consumer group (TidemarkClient#partition):
 * the client's state calls, scoped to the partition, over the client's
 * connection settings.
 */
export class PartitionState {
  #ops;

  /** @internal use TidemarkClient#partition */
  constructor(group, topic, partition, ops) {
    this.group = group;
    this.topic = topic;
    this.partition = partition;
    this.#ops = ops;
    Object.freeze(this);
  }

  /** As TidemarkClient#putState, in this partition's scope. */
  putState(key, value, options) {
    return this.#ops.putState(key, value, options);
  }

  /** As TidemarkClient#getState, in this partition's scope. */
  getState(key, options) {
    return this.#ops.getState(key, options);
  }

  /** As TidemarkClient#deleteState, in this partition's scope. */
  deleteState(key, options) {
    return this.#ops.deleteState(key, options);
  }

  /** This partition's keys (as given to putState), in key order. */
  listState(options) {
    return this.#ops.listState(options);
  }
}
