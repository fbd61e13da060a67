/**
 * Errors across gRPC: a thrown error becomes a status with the error class
 * in trailing metadata, and a failed call becomes the same class again.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import {
  errorStatus,
  InvalidKeyError,
  NotFoundError,
  PeerError,
  TooLargeError,
  UnknownGroupError,
  UnsupportedError,
} from "../errors.ts";

/** The trailing metadata key that names the error class of a failed call. */
export const ERROR_METADATA_KEY = "mccache-error";

/**
 * Turns an error thrown while serving into the status a gRPC handler returns.
 *
 * @example
 * ```ts
 * import { NotFoundError } from "@mccache/core";
 * import { toServiceError } from "./status.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(toServiceError(new NotFoundError("no Tom")).code, 5);
 * ```
 */
export function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name === "string") metadata.set(ERROR_METADATA_KEY, name);
  const message = error instanceof Error ? error.message : String(error);
  return { code: errorStatus(error).grpc, details: message, metadata };
}

/**
 * Whether a call failed because its connection broke: a killed node gives
 * UNAVAILABLE, a reset stream INTERNAL. Such a call is safe to send again,
 * to another member.
 *
 * @example UNAVAILABLE is safe to retry, NOT_FOUND is not
 * ```ts
 * import { brokenConnection } from "@mccache/core/grpc";
 * import assert from "node:assert/strict";
 *
 * assert(brokenConnection(14) && !brokenConnection(5));
 * ```
 */
export function brokenConnection(code: number): boolean {
  return code === grpc.status.UNAVAILABLE || code === grpc.status.INTERNAL;
}

const REBUILD: Record<string, (message: string) => Error> = {
  NotFoundError: (message) => new NotFoundError(message),
  InvalidKeyError: (message) => new InvalidKeyError(message),
  UnknownGroupError: (message) => Object.assign(new UnknownGroupError(""), { message }),
  UnsupportedError: (message) => new UnsupportedError(message),
  TooLargeError: (message) => new TooLargeError(message),
  TimeoutError: (message) => new DOMException(message, "TimeoutError"),
};

/**
 * What {@linkcode fromServiceError} reads of a failed call: a grpc-js
 * `ServiceError` is one. Described by its shape so that these docs stand
 * without grpc-js's types.
 */
export interface FailedCall {
  /** The gRPC status code. @default {2 (UNKNOWN)} */
  code?: number;
  /** The status message. @default {the error's `message`} */
  details?: string;
  /** The error's message, used when there are no `details`. */
  message?: string;
  /** The trailing metadata; its `mccache-error` entry names the server's error class. */
  metadata?: { get(key: string): unknown[] };
}

/**
 * Turns a failed call into the error the server threw: `NotFoundError`,
 * `InvalidKeyError`, `UnknownGroupError`, `UnsupportedError`, a
 * `TimeoutError` for a passed deadline, or an `Error` with the server's
 * message when its load failed. Anything else, the transport failing
 * included, is a `PeerError` naming `peer`, with the gRPC error as its cause.
 *
 * @example An unreachable node is a PeerError
 * ```ts
 * import { fromServiceError } from "@mccache/core/grpc";
 * import assert from "node:assert/strict";
 *
 * const error = fromServiceError({ code: 14, details: "connection refused" }, "127.0.0.1:8001");
 * assert.equal(error.name, "PeerError");
 * ```
 */
export function fromServiceError(
  error: FailedCall,
  peer: string,
): Error {
  const name = error.metadata?.get(ERROR_METADATA_KEY)[0];
  const details = error.details ?? error.message ?? "unknown error";
  const code = error.code ?? grpc.status.UNKNOWN;
  return errorFromStatus(code, details, typeof name === "string" ? name : undefined, peer, error);
}

/**
 * Like {@linkcode fromServiceError}, from the parts of a status (as a
 * batched result carries them).
 *
 * @example Rebuild the error class a result names
 * ```ts
 * import { errorFromStatus } from "@mccache/core/grpc";
 * import assert from "node:assert/strict";
 *
 * assert.equal(errorFromStatus(5, "Tom not exist", "NotFoundError", "n1").name, "NotFoundError");
 * ```
 */
export function errorFromStatus(
  code: number,
  details: string,
  name: string | undefined,
  peer: string,
  cause?: unknown,
): Error {
  const rebuild = name === undefined ? undefined : REBUILD[name];
  if (rebuild) return rebuild(details);
  // The node answered and named the error: its load failed (e.g. the origin
  // is down), which is not a transport failure.
  if (name !== undefined && code === grpc.status.UNKNOWN) {
    return Object.assign(new Error(details), { name });
  }
  if (code === grpc.status.NOT_FOUND) return REBUILD.NotFoundError(details);
  if (code === grpc.status.DEADLINE_EXCEEDED) return REBUILD.TimeoutError(details);
  return new PeerError(`${peer}: ${grpc.status[code]}: ${details}`, {
    cause: cause ?? { code, details },
  });
}
