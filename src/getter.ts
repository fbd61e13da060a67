/**
 * Getters: how a group loads a key it does not have.
 *
 * @module
 */

import { ByteView } from "./byte_view.ts";

/** A value as a getter may give it. Bytes and strings are copied; a `ByteView` is kept as it is. */
export type GetterValue = Uint8Array | string | ByteView;

/**
 * What a getter may return: a value, or a value with its own TTL in
 * milliseconds. Return `ByteView.adopt(bytes)` for bytes nothing else holds
 * (e.g. a response body just read) to save the copy.
 */
export type GetterResult = GetterValue | { value: GetterValue; ttl?: number };

/** Loads a key from the source of truth; throws `NotFoundError` when it does not exist. */
export type GetterFunc = (
  key: string,
  options: { signal: AbortSignal },
) => GetterResult | Promise<GetterResult>;

/** A getter as a function, or as an object with a `get` method (groupcache's `Getter`). */
export type Getter = GetterFunc | { get: GetterFunc };

/** Turns either form of getter into a function. */
export function toGetterFunc(getter: Getter): GetterFunc {
  if (typeof getter === "function") return getter;
  if (typeof getter?.get === "function") return (key, options) => getter.get(key, options);
  throw new TypeError("Cannot create Group: getter must be a function or an object with get()");
}

/** Returns `ttl` if it is a positive, finite number of milliseconds; throws a RangeError otherwise. */
export function checkTtl(ttl: number, what: string): number {
  if (typeof ttl !== "number" || !(ttl > 0) || !Number.isFinite(ttl)) {
    throw new RangeError(
      `Cannot ${what}: ttl must be a positive number of milliseconds: received ${ttl}`,
    );
  }
  return ttl;
}

/** Returns `value` as a view the cache may keep. */
export function toByteView(value: GetterValue): ByteView {
  return value instanceof ByteView ? value : ByteView.from(value);
}

/** Reports whether `value` is a {@linkcode GetterValue}. */
export function isGetterValue(value: unknown): value is GetterValue {
  return typeof value === "string" || value instanceof Uint8Array || value instanceof ByteView;
}
