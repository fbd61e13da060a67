/**
 * The errors callers catch, and the one table that maps each to a status on
 * every surface (gRPC, HTTP, process exit).
 *
 * @module
 */

/**
 * Thrown by a getter to say the key does not exist in the source of truth.
 * It is never cached, travels between nodes as gRPC NOT_FOUND and reaches
 * HTTP clients as 404.
 *
 * @example Signal a missing key from a getter
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group, NotFoundError } from "@mccache/core";
 *
 * const group = new Group({
 *   name: "users",
 *   maxBytes: 1 << 20,
 *   getter: (key) => {
 *     throw new NotFoundError(`No user ${key}`);
 *   },
 * });
 * await assert.rejects(group.get("ann"), NotFoundError);
 * ```
 */
export class NotFoundError extends Error {
  /** Creates the error; `message` says which key was not found. */
  constructor(message = "Key not found", options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}

/**
 * A key that no node will accept: empty, or longer than {@linkcode MAX_KEY_BYTES}
 * bytes of UTF-8.
 *
 * @example Catch a bad key
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group, InvalidKeyError } from "@mccache/core";
 *
 * const group = new Group({ name: "k", maxBytes: 1 << 20, getter: (key) => key });
 * await assert.rejects(group.get(""), InvalidKeyError);
 * ```
 */
export class InvalidKeyError extends Error {
  /** Creates the error; `message` says what is wrong with the key. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidKeyError";
  }
}

/**
 * A request named a group that this process does not serve.
 *
 * @example Catch an unknown group
 * ```ts
 * import assert from "node:assert/strict";
 * import { GroupRegistry, UnknownGroupError } from "@mccache/core";
 *
 * const registry = new GroupRegistry();
 * assert.throws(() => registry.mustGet("nope"), UnknownGroupError);
 * ```
 */
export class UnknownGroupError extends Error {
  /** Creates the error for the group called `group`. */
  constructor(group: string, options?: ErrorOptions) {
    super(`Unknown group: ${JSON.stringify(group)}`, options);
    this.name = "UnknownGroupError";
  }
}

/**
 * A peer (another cache node) could not answer. Reads never fail for this
 * reason alone: the group counts it and loads the key itself.
 *
 * @example Wrap a transport failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerError } from "@mccache/core";
 *
 * const error = new PeerError("127.0.0.1:8001: connection refused");
 * assert(error.name === "PeerError");
 * ```
 */
export class PeerError extends Error {
  /** Creates the error; `message` names the peer and what failed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PeerError";
  }
}

/**
 * A member cannot do what was asked of it. Nodes of the Go original serve
 * only its `Get`, so a write (PUT or DELETE) of a key that one of them owns
 * is refused with this error, naming the member.
 *
 * @example Refuse a write the owner cannot take
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorStatus, UnsupportedError } from "@mccache/core";
 *
 * const error = new UnsupportedError("127.0.0.1:8002 runs the Go original, which has no Set");
 * assert(errorStatus(error).http === 501);
 * ```
 */
export class UnsupportedError extends Error {
  /** Creates the error; `message` names the member and what it cannot do. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsupportedError";
  }
}

/**
 * A value over the size a node or gateway accepts (`--max-value-bytes`).
 *
 * @example A value over the limit answers 413
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorStatus, TooLargeError } from "@mccache/core";
 *
 * assert(errorStatus(new TooLargeError("Value of 2 MiB is over the limit")).http === 413);
 * ```
 */
export class TooLargeError extends Error {
  /** Creates the error; `message` says how large the value was and the limit. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TooLargeError";
  }
}

/** The statuses one error class maps to, on every surface. */
export interface ErrorStatus {
  /** gRPC status code (numeric, as in grpc's `status` enum). */
  grpc: number;
  /** HTTP status code. */
  http: number;
  /** Process exit code for a command-line tool. */
  exit: number;
}

// gRPC codes by number, so that the core does not import a gRPC library.
const GRPC_CANCELLED = 1;
const GRPC_UNKNOWN = 2;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_NOT_FOUND = 5;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_UNAVAILABLE = 14;

const STATUS_BY_NAME: Record<string, ErrorStatus> = {
  NotFoundError: { grpc: GRPC_NOT_FOUND, http: 404, exit: 4 },
  // An unknown group is a caller mistake on the wire (INVALID_ARGUMENT, as
  // the issue asks), but a missing resource to an HTTP client.
  UnknownGroupError: { grpc: GRPC_INVALID_ARGUMENT, http: 404, exit: 4 },
  InvalidKeyError: { grpc: GRPC_INVALID_ARGUMENT, http: 400, exit: 2 },
  PeerError: { grpc: GRPC_UNAVAILABLE, http: 503, exit: 3 },
  UnsupportedError: { grpc: GRPC_UNIMPLEMENTED, http: 501, exit: 3 },
  TooLargeError: { grpc: GRPC_RESOURCE_EXHAUSTED, http: 413, exit: 2 },
  TimeoutError: { grpc: GRPC_DEADLINE_EXCEEDED, http: 504, exit: 3 },
  AbortError: { grpc: GRPC_CANCELLED, http: 499, exit: 3 },
};

// A getter that failed for its own reasons: the origin, not the cache, is at fault.
const UNKNOWN_STATUS: ErrorStatus = { grpc: GRPC_UNKNOWN, http: 502, exit: 1 };

/**
 * Maps an error to its statuses. Errors are matched by `name`, so a
 * `DOMException` named `TimeoutError` (from `AbortSignal.timeout`) maps to a
 * deadline; anything unrecognised is a failed load (gRPC UNKNOWN, HTTP 502).
 *
 * @example Map a not-found error
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorStatus, NotFoundError } from "@mccache/core";
 *
 * assert(errorStatus(new NotFoundError()).http === 404);
 * ```
 */
export function errorStatus(error: unknown): ErrorStatus {
  const name = (error as { name?: unknown } | null)?.name;
  return (typeof name === "string" && STATUS_BY_NAME[name]) || UNKNOWN_STATUS;
}
