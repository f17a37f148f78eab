// Types for @tidemark/client (hand-written; the package is plain JavaScript).

/// <reference types="node" />
import type { Buffer } from "node:buffer";

export declare const DEFAULT_BASE_URL: "http://127.0.0.1:8770";
export declare const DEFAULT_TIMEOUT_MS: number;

export interface TidemarkClientOptions {
  /** Default "http://127.0.0.1:8770". */
  baseUrl?: string;
  /** The bearer token (http.token_file's content). Not with tokenFile. */
  token?: string;
  /** A file holding the token, re-read for every request (rotation). Not with token. */
  tokenFile?: string;
  /** Per request, default 90000 (checkpoint() waits until the checkpoint is durable). */
  timeoutMs?: number;
}

/** Which state a read sees: "sealed" (default: what a checkpoint persists) or "staged". */
export type View = "sealed" | "staged";

/** State value bytes; a string is sent as UTF-8. */
export type Value = Uint8Array | ArrayBuffer | ArrayBufferView | string;

export interface State {
  value: Buffer;
  contentType: string | null;
  etag: string | null;
}

export interface StateEntry {
  key: string;
  size: number;
  etag: string;
}

export interface Offset {
  group: string;
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch?: number;
  metadata?: string | null;
}

export interface SealResult {
  /** How many seals produced the sealed view. */
  seal: number;
  /** Partitions this request carried offsets for. */
  partitions: number;
}

export interface Commit {
  offsets?: Offset[];
  put?: Record<string, Value> | Map<string, Value>;
  delete?: string[];
}

export interface CheckpointSummary {
  id: string;
  createdAtMs: number;
  /** "request", "interval", "messages", "shutdown", ... */
  trigger: string;
  partitions: number;
  stateKeys: number;
  stateBytes: number;
}

export interface CheckpointOffset {
  group: string;
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

export interface CheckpointStateKey {
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  /** The partition of partition-scoped state; null for instance state. */
  partition: PartitionId | null;
}

/** One partition of one consumer group: the scope of partition-scoped state. */
export interface PartitionId {
  group: string;
  topic: string;
  partition: number;
}

export interface CheckpointDetail extends CheckpointSummary {
  jobId: string;
  offsets: CheckpointOffset[];
  state: CheckpointStateKey[];
}

export declare class TidemarkClient {
  constructor(options?: TidemarkClientOptions);
  readonly baseUrl: string;
  /** Stages value under key; resolves to the new ETag. */
  putState(key: string, value: Value, options?: { contentType?: string; ifMatch?: string }): Promise<string>;
  /** The value (sealed view unless view is "staged"), or null when the key has none. */
  getState(key: string, options?: { view?: View }): Promise<State | null>;
  /** Rejects with NotFoundError when the key has no value, ConflictError on a stale ifMatch. */
  deleteState(key: string, options?: { ifMatch?: string }): Promise<void>;
  /** Instance keys only; partition-scoped keys are listed by partition(...).listState(). */
  listState(options?: { prefix?: string; view?: View }): Promise<StateEntry[]>;
  /**
   * The partition-scoped state of one partition of one consumer group (same calls,
   * results and errors; a bad group, topic or partition: BadRequestError 400 invalid_partition).
   */
  partition(group: string, topic: string, partition: number): PartitionState;
  markOffsets(offsets: Offset[]): Promise<SealResult>;
  commit(commit?: Commit): Promise<SealResult>;
  /** Takes a checkpoint; resolves to its id once durable. */
  checkpoint(): Promise<string>;
  checkpoints(): Promise<CheckpointSummary[]>;
  getCheckpoint(id: string): Promise<CheckpointDetail>;
}

/** The state of one partition of one consumer group (TidemarkClient#partition). */
export declare class PartitionState implements PartitionId {
  private constructor();
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  putState(key: string, value: Value, options?: { contentType?: string; ifMatch?: string }): Promise<string>;
  getState(key: string, options?: { view?: View }): Promise<State | null>;
  deleteState(key: string, options?: { ifMatch?: string }): Promise<void>;
  listState(options?: { prefix?: string; view?: View }): Promise<StateEntry[]>;
}

/** A partition's state scope as a URL path (group and topic percent-encoded as one segment each). */
export declare function encodePartition(group: string, topic: string, partition: number): string;

/** A key as a URL path: segments percent-encoded, joined by "/". */
export declare function encodeKey(key: string): string;

export declare class TidemarkError extends Error {
  constructor(message: string, options?: { status?: number; code?: string; cause?: unknown });
  /** HTTP status of the sidecar's answer; 0 when there was none. */
  readonly status: number;
  /** API error code (error.code of the answer), e.g. "not_found", "precondition_failed". */
  readonly code: string;
}
/** 400 (invalid_key, invalid_partition, invalid_offsets, invalid_argument, malformed_json, ...). */
export declare class BadRequestError extends TidemarkError {}
/** 401 unauthenticated. */
export declare class UnauthenticatedError extends TidemarkError {}
/** 404 not_found. */
export declare class NotFoundError extends TidemarkError {}
/** 409 precondition_failed. */
export declare class ConflictError extends TidemarkError {}
/** 413 payload_too_large. */
export declare class PayloadTooLargeError extends TidemarkError {}
/** No answer (status 0): code "timeout" or "transport". */
export declare class TransportError extends TidemarkError {
  constructor(message: string, options?: { code?: string; cause?: unknown });
}
