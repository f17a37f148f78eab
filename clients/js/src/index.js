export { TidemarkClient, DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, encodeKey } from "./client.js";
export {
  TidemarkError,
  BadRequestError,
  UnauthenticatedError,
  NotFoundError,
  ConflictError,
  PayloadTooLargeError,
  TransportError,
} from "./errors.js";
