/**
 * Getters: how a group loads a key it does not have.
 *
 * @module
 */

import { ByteView } from "./byte_view.ts";
import type { Cached } from "./_caches.ts";

/** A value as a getter may give it. Bytes and strings are copied; a `ByteView` is kept as it is. */
export type GetterValue = Uint8Array | string | ByteView;

/**
 * What a getter may return: a value, or a value with its own TTL in
 * milliseconds and, past it, its own stale windows (see the group options of
 * the same names; an HTTP origin's `Cache-Control` gives all three). Return
 * `ByteView.adopt(bytes)` for bytes nothing else holds (e.g. a response body
 * just read) to save the copy.
 */
export type GetterResult = GetterValue | {
  value: GetterValue;
  ttl?: number;
  staleWhileRevalidate?: number;
  staleIfError?: number;
};

/** A group's defaults for what a getter result leaves out (milliseconds). */
export interface Freshness {
  ttl: number | undefined;
  staleWhileRevalidate: number;
  staleIfError: number;
}

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

/** Returns `ms` if it is a non-negative, finite number of milliseconds; throws a RangeError otherwise. */
export function checkWindow(ms: number, name: string, what: string): number {
  if (typeof ms !== "number" || !(ms >= 0) || !Number.isFinite(ms)) {
    throw new RangeError(
      `Cannot ${what}: ${name} must be a non-negative number of milliseconds: received ${ms}`,
    );
  }
  return ms;
}

/**
 * Turns a getter's result into a cache entry: the value, when it expires on
 * the clock `now`, and its stale windows (the defaults fill what it omits).
 */
export function toCached(
  result: GetterResult,
  defaults: Freshness,
  now: number,
  where: string,
): Cached {
  if (isGetterValue(result)) return entryOf(toByteView(result), defaults, now);
  const value = (result as { value?: unknown } | null)?.value;
  if (!isGetterValue(value)) {
    throw new TypeError(
      `Cannot load ${where}: the getter must return a Uint8Array, a string, a ByteView or { value, ttl }`,
    );
  }
  const window = (ms: number | undefined, name: string, fallback: number) =>
    ms === undefined ? fallback : checkWindow(ms, name, "load");
  return entryOf(toByteView(value), {
    ttl: result.ttl === undefined ? defaults.ttl : checkTtl(result.ttl, "load"),
    staleWhileRevalidate: window(
      result.staleWhileRevalidate,
      "staleWhileRevalidate",
      defaults.staleWhileRevalidate,
    ),
    staleIfError: window(result.staleIfError, "staleIfError", defaults.staleIfError),
  }, now);
}

/** A cache entry for `view` with the TTL and stale windows of `freshness`. */
export function entryOf(view: ByteView, freshness: Freshness, now: number): Cached {
  const { ttl, staleWhileRevalidate, staleIfError } = freshness;
  if (ttl === undefined) return { view, expiresAt: 0 };
  return { view, expiresAt: now + ttl, staleWhileRevalidate, staleIfError };
}

/** Returns `value` as a view the cache may keep. */
export function toByteView(value: GetterValue): ByteView {
  return value instanceof ByteView ? value : ByteView.from(value);
}

/** Reports whether `value` is a {@linkcode GetterValue}. */
export function isGetterValue(value: unknown): value is GetterValue {
  return typeof value === "string" || value instanceof Uint8Array || value instanceof ByteView;
}
