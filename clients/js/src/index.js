export {
  TidemarkClient,
  PartitionState,
  DEFAULT_BASE_URL,
  DEFAULT_TIMEOUT_MS,
  encodeKey,
  encodePartition,
} from "./client.js";
export {
  TidemarkError,
  BadRequestError,
  UnauthenticatedError,
  NotFoundError,
  ConflictError,
  PayloadTooLargeError,
  TransportError,
} from "./errors.js";
