/**
 * Getters: how a group loads a key it does not have.
 *
 * @module
 */

/** What a getter may return: a value, or a value with its own TTL in milliseconds. */
export type GetterResult = Uint8Array | string | { value: Uint8Array | string; ttl?: number };

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
