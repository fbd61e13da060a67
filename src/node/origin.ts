/**
 * A getter that reads through to an HTTP origin, for `--origin`.
 *
 * @module
 */

import { ByteView } from "../byte_view.ts";
import { NotFoundError } from "../errors.ts";
import type { GetterFunc, GetterResult } from "../getter.ts";

/** Options for {@linkcode originGetter}. */
export interface OriginGetterOptions {
  /** Sent as `X-Mccache-Node` so the origin can tell which node loaded a key. @default {undefined} */
  node?: string;
  /**
   * The largest body read from the origin, in bytes: a larger one is cut off
   * once this many bytes have arrived (or at once, when its Content-Length
   * says so) and the load fails with an `OriginTooLargeError` (HTTP 502).
   * @default {1048576}
   */
  maxBodyBytes?: number;
  /**
   * How long, in milliseconds, a key whose body was too large fails again
   * with the same error without asking the origin; 0 asks every time.
   * @default {5000}
   */
  negativeTtl?: number;
  /** The clock of `negativeTtl`, in milliseconds. @default {Date.now} */
  now?: () => number;
}

// Keys remembered as too large at most: the memory they take stays small
// whatever an origin serves.
const MAX_NEGATIVE_KEYS = 10_000;

/**
 * Returns a getter that fetches `template` with `{key}` replaced by the
 * URL-encoded key. 404 means not found; any other non-2xx status or a network
 * failure is an error (never cached). `Cache-Control: max-age=N` becomes the
 * value's TTL, and with it `stale-while-revalidate=N` and `stale-if-error=N`
 * its stale windows (the group's own apply where the origin gives none). A
 * body over `maxBodyBytes` is never read whole: it fails the load, and loads
 * of that key fail alike for `negativeTtl` without a fetch.
 *
 * @example A group that loads from an HTTP origin
 * ```ts
 * import { Group } from "@mccache/core";
 * import { originGetter } from "@mccache/core/node";
 *
 * const users = new Group({
 *   name: "users",
 *   maxBytes: 64 << 20,
 *   getter: originGetter("http://127.0.0.1:9000/users/{key}"),
 * });
 * ```
 */
export function originGetter(template: string, options: OriginGetterOptions = {}): GetterFunc {
  const inPath = checkTemplate(template);
  const headers: HeadersInit = options.node ? { "x-mccache-node": options.node } : {};
  const maxBodyBytes = checkOption(options.maxBodyBytes ?? 1 << 20, "maxBodyBytes");
  const tooLarge = new NegativeCache(
    checkOption(options.negativeTtl ?? 5000, "negativeTtl"),
    options.now ?? Date.now,
  );
  return async (key, { signal }) => {
    const refused = tooLarge.get(key);
    if (refused) throw refused;
    if (inPath) checkPathKey(key);
    const target = template.replace("{key}", encodeURIComponent(key));
    const response = await fetch(target, { signal, headers });
    await checkStatus(response, key);
    let value: ByteView;
    try {
      // The buffer is the body's size and no one else's: the cache keeps it
      // as it is, without another copy.
      value = ByteView.adopt(await readBody(response, maxBodyBytes, key));
    } catch (error) {
      if (error instanceof OriginTooLargeError) tooLarge.set(key, error);
      throw error;
    }
    return withCacheControl(value, response.headers.get("cache-control") ?? "");
  };
}

// Throws on a template that is no http(s) URL with {key}; returns whether
// {key} is in the URL's path (else it is in the query).
function checkTemplate(template: string): boolean {
  if (!template.includes("{key}")) {
    throw new TypeError(`Invalid origin URL "${template}": it must contain {key}`);
  }
  const url = new URL(template.replace("{key}", "key")); // throws on a malformed URL
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`Invalid origin URL "${template}": expected http:// or https://`);
  }
  return !template.slice(0, template.indexOf("{key}")).includes("?");
}

// URLs resolve "." and ".." path segments (even percent-encoded) away.
function checkPathKey(key: string): void {
  if (key === "." || key === "..") {
    throw new Error(
      `Cannot fetch ${JSON.stringify(key)}: a URL path cannot carry it; put {key} in the query`,
    );
  }
}

// 404 is not found, any other non-2xx an error; neither body is read.
async function checkStatus(response: Response, key: string): Promise<void> {
  if (response.status === 404) {
    await response.body?.cancel();
    throw new NotFoundError(`${key} not found at origin`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`Origin answered ${response.status} for ${JSON.stringify(key)}`);
  }
}

// The value with the TTL and stale windows its Cache-Control gives; without
// max-age (or with 0) the value alone, so the group's own settings apply.
function withCacheControl(value: ByteView, cacheControl: string): GetterResult {
  const ttl = seconds(cacheControl, "max-age");
  if (ttl === undefined || ttl === 0) return value;
  const staleWhileRevalidate = seconds(cacheControl, "stale-while-revalidate");
  const staleIfError = seconds(cacheControl, "stale-if-error");
  return { value, ttl, staleWhileRevalidate, staleIfError };
}

// A Cache-Control directive's seconds, in milliseconds (RFC 9111, RFC 5861).
function seconds(cacheControl: string, directive: string): number | undefined {
  const match = new RegExp(`(?:^|,)\\s*${directive}=(\\d+)`, "i").exec(cacheControl);
  return match ? Number(match[1]) * 1000 : undefined;
}

/**
 * An origin's body was larger than the getter reads (`maxBodyBytes`). The
 * origin is at fault, not the caller: it maps to HTTP 502, as any failed load.
 *
 * @example An oversized origin answer is a 502
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorStatus } from "@mccache/core";
 * import { OriginTooLargeError } from "@mccache/core/node";
 *
 * assert.equal(errorStatus(new OriginTooLargeError("k", 1024)).http, 502);
 * ```
 */
export class OriginTooLargeError extends Error {
  /** Creates the error for `key`'s body, over `limit` bytes. */
  constructor(key: string, limit: number) {
    super(`Origin body of ${JSON.stringify(key)} is over this node's limit of ${limit} bytes`);
    this.name = "OriginTooLargeError";
  }
}

function checkOption(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot create origin getter: ${name} must be a non-negative integer: received ${value}`,
    );
  }
  return value;
}

// Reads at most `limit` bytes: a larger body is cancelled, which closes its
// connection, instead of being read and thrown away on every GET.
async function readBody(
  response: Response,
  limit: number,
  key: string,
): Promise<Uint8Array<ArrayBuffer>> {
  if (Number(response.headers.get("content-length") ?? NaN) > limit) {
    await response.body?.cancel();
    throw new OriginTooLargeError(key, limit);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    // Leaving the loop cancels the body.
    if (size > limit) throw new OriginTooLargeError(key, limit);
    chunks.push(chunk);
  }
  // One buffer of the body's size: fetch's own buffers are larger, and their
  // slack would stay resident for as long as the entry lives.
  const value = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    value.set(chunk, offset);
    offset += chunk.length;
  }
  return value;
}

// Keys whose load failed for good reason, with the error to fail them with
// until it expires; the oldest is forgotten first once full.
class NegativeCache {
  #errors = new Map<string, { error: Error; until: number }>();

  constructor(readonly ttl: number, readonly now: () => number) {}

  get(key: string): Error | undefined {
    const entry = this.#errors.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > this.now()) return entry.error;
    this.#errors.delete(key);
    return undefined;
  }

  set(key: string, error: Error): void {
    if (this.ttl === 0) return;
    this.#errors.delete(key);
    if (this.#errors.size >= MAX_NEGATIVE_KEYS) {
      this.#errors.delete(this.#errors.keys().next().value!);
    }
    this.#errors.set(key, { error, until: this.now() + this.ttl });
  }
}
