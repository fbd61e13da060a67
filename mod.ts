/**
 * mccache: a groupcache-style distributed read-through cache.
 *
 * This module is the embeddable core: a {@linkcode Group} is a named cache
 * with a byte budget and a getter that loads a missing key from the source of
 * truth. It has no network, runtime or npm dependency; transports (gRPC, etcd
 * discovery, the HTTP gateway) live in their own export paths.
 *
 * @example A read-through cache
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group, NotFoundError } from "@mccache/core";
 *
 * const db = new Map([["Tom", "630"], ["Jack", "589"], ["Sam", "567"]]);
 * const scores = new Group({
 *   name: "scores",
 *   maxBytes: 2 << 10,
 *   getter: (key) => {
 *     const value = db.get(key);
 *     if (value === undefined) throw new NotFoundError(`${key} not exist`);
 *     return value;
 *   },
 * });
 * assert((await scores.get("Tom")).text() === "630");
 * ```
 *
 * @module
 */

export { ByteView } from "./src/byte_view.ts";
export {
  type ErrorStatus,
  errorStatus,
  InvalidKeyError,
  NotFoundError,
  PeerError,
  TooLargeError,
  UnknownGroupError,
  UnsupportedError,
} from "./src/errors.ts";
export type { Getter, GetterFunc, GetterResult, GetterValue } from "./src/getter.ts";
export {
  type CacheEntry,
  type CachePolicy,
  ENTRY_OVERHEAD,
  type GetOptions,
  Group,
  type GroupOptions,
  type LoadObserver,
  type SetOptions,
} from "./src/group.ts";
export { HashRing, type HashRingOptions } from "./src/hash_ring.ts";
export { MAX_KEY_BYTES, validateKey } from "./src/key.ts";
export { type LruAddOptions, LruCache, type LruCacheOptions } from "./src/lru.ts";
export {
  noPeers,
  type PeerCallOptions,
  type PeerGetter,
  type PeerPicker,
  type PeerRequest,
  type PeerValue,
} from "./src/peers.ts";
export { defaultRegistry, getGroup, GroupRegistry, newGroup } from "./src/registry.ts";
export { SingleFlight, type SingleFlightOptions } from "./src/singleflight.ts";
export type { CacheStats, CacheType, GroupStats } from "./src/stats.ts";
