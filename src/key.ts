/**
 * The rules every key follows, on every node and gateway.
 *
 * @module
 */

import { InvalidKeyError } from "./errors.ts";
import { MAX_KEY_BYTES } from "./limits.ts";
import { utf8Length } from "./utf8.ts";

export { MAX_KEY_BYTES } from "./limits.ts";

/**
 * Throws {@linkcode InvalidKeyError} unless `key` is a non-empty, well-formed
 * string of at most {@linkcode MAX_KEY_BYTES} bytes of UTF-8.
 *
 * @example Accept a key or refuse an empty one
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidKeyError, validateKey } from "@mccache/core";
 *
 * validateKey("Rex");
 * assert.throws(() => validateKey(""), InvalidKeyError);
 * ```
 */
export function validateKey(key: string): void {
  if (typeof key !== "string") {
    throw new InvalidKeyError(`Invalid key: must be a string: received ${typeof key}`);
  }
  if (key.length === 0) throw new InvalidKeyError("Invalid key: must not be empty");
  // A lone surrogate has no UTF-8 form: two such keys would collide on the wire.
  if (!key.isWellFormed()) {
    throw new InvalidKeyError("Invalid key: must be well-formed Unicode (no lone surrogates)");
  }
  // Only long keys pay for counting: a UTF-16 unit is at most 3 bytes of UTF-8.
  if (key.length * 3 > MAX_KEY_BYTES) {
    const bytes = utf8Length(key);
    if (bytes > MAX_KEY_BYTES) {
      throw new InvalidKeyError(
        `Invalid key: must be at most ${MAX_KEY_BYTES} bytes of UTF-8: received ${bytes}`,
      );
    }
  }
}
