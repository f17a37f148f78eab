// Errors thrown by TidemarkClient.
//
// Every error is a TidemarkError. One the sidecar answered carries its HTTP
// status and the API error code from its JSON body
// ({"error": {"code", "message"}}); the common statuses have their own
// subclass. A request that got no answer (connection refused or reset,
// timeout) is a TransportError, with status 0.

export class TidemarkError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string, cause?: unknown}} [options]
   */
  constructor(message, { status = 0, code = "unknown", cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    /** HTTP status of the sidecar's answer (0: no answer). */
    this.status = status;
    /** The API error code (`error.code` of the answer's JSON body). */
    this.code = code;
  }
}

/** 400: the request was refused as invalid (invalid_key, invalid_offsets, ...). */
export class BadRequestError extends TidemarkError {}
/** 401 unauthenticated: no token, or not the sidecar's token. */
export class UnauthenticatedError extends TidemarkError {}
/** 404 not_found: no such key, checkpoint or route. */
export class NotFoundError extends TidemarkError {}
/** 409 precondition_failed: the If-Match ETag is not the current one. */
export class ConflictError extends TidemarkError {}
/** 413 payload_too_large: the value is beyond the sidecar's http.max_blob_bytes. */
export class PayloadTooLargeError extends TidemarkError {}

/** No answer from the sidecar: code "timeout" when timeoutMs passed, "transport" otherwise. */
export class TransportError extends TidemarkError {
  constructor(message, { code = "transport", cause } = {}) {
    super(message, { status: 0, code, cause });
  }
}

const BY_STATUS = new Map([
  [400, BadRequestError],
  [401, UnauthenticatedError],
  [404, NotFoundError],
  [409, ConflictError],
  [413, PayloadTooLargeError],
]);

/**
 * The error for an answer with a non-2xx status. `body` is the answer's text;
 * when it is not the API's JSON error document (say, from a proxy in between),
 * the code is "http_<status>".
 * @param {number} status
 * @param {string} body
 * @param {string} [what] the request, for the message ("PUT /v1/state/k")
 */
export function errorFromResponse(status, body, what) {
  let code = `http_${status}`;
  let message = body.length > 200 ? `${body.slice(0, 200)}...` : body;
  try {
    const doc = JSON.parse(body);
    const e = doc && typeof doc === "object" ? doc.error : undefined;
    if (e && typeof e === "object" && typeof e.code === "string" && e.code !== "") {
      code = e.code;
      message = typeof e.message === "string" ? e.message : "";
    }
  } catch {
    // not JSON: keep the text
  }
  const Class = BY_STATUS.get(status) ?? TidemarkError;
  const prefix = what ? `${what}: ` : "";
  return new Class(`${prefix}${status} ${code}${message ? `: ${message}` : ""}`, { status, code });
}
