/**
 * The interfaces a transport implements so that groups can reach other
 * nodes: {@linkcode PeerPicker} and {@linkcode PeerGetter}.
 *
 * @module
 */

/** What a group asks a peer for. */
export interface PeerRequest {
  /** The group's name. */
  group: string;
  /** The key. */
  key: string;
}

/** A value as a peer returns it. */
export interface PeerValue {
  /** The value's bytes; the group keeps them, so a transport must not reuse the buffer. */
  value: Uint8Array<ArrayBuffer>;
  /** Milliseconds the value stays fresh, when the owner gave it a TTL. @default {undefined} */
  ttl?: number;
}

/** Options for every {@linkcode PeerGetter} call. */
export interface PeerCallOptions {
  /** Aborts the call; a transport carries it as a deadline where it can. @default {undefined} */
  signal?: AbortSignal;
}

/**
 * One other node, as seen by a group. `get` is required; `set` and `remove`
 * let a group write at the owner and drop copies elsewhere.
 *
 * A transport rejects with `NotFoundError` when the peer's getter said not
 * found, and with `PeerError` for anything that went wrong on the way.
 *
 * @example A peer backed by a map (as tests use)
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotFoundError, type PeerGetter } from "@mccache/core";
 *
 * const data = new Map([["k", new TextEncoder().encode("v")]]);
 * const peer: PeerGetter = {
 *   get({ key }) {
 *     const value = data.get(key);
 *     return value ? Promise.resolve({ value }) : Promise.reject(new NotFoundError(key));
 *   },
 * };
 * assert((await peer.get({ group: "g", key: "k" }, {})).value.length === 1);
 * ```
 */
export interface PeerGetter {
  /** Fetches a value from the peer, which loads it if it must. */
  get(request: PeerRequest, options: PeerCallOptions): Promise<PeerValue>;
  /** Stores a value at the peer, which owns the key. */
  set?(
    request: PeerRequest & { value: Uint8Array; ttl?: number },
    options: PeerCallOptions,
  ): Promise<void>;
  /**
   * Drops the key from the peer's caches. With `local`, the peer must not pass
   * the removal on (the caller is already telling everyone).
   */
  remove?(request: PeerRequest & { local: boolean }, options: PeerCallOptions): Promise<void>;
}

/**
 * Picks the node that owns a key: a {@linkcode PeerGetter}, or `undefined`
 * when this process owns it.
 *
 * @example A picker for a single-process cache
 * ```ts
 * import assert from "node:assert/strict";
 * import { type PeerPicker } from "@mccache/core";
 *
 * const alone: PeerPicker = { pickPeer: () => undefined, peers: () => [] };
 * assert(alone.pickPeer("k") === undefined);
 * ```
 */
export interface PeerPicker {
  /** Returns the owner of `key`, or `undefined` when it is this process. */
  pickPeer(key: string): PeerGetter | undefined;
  /** Returns every other node, to broadcast removals to. */
  peers(): readonly PeerGetter[];
}

/**
 * The picker of a process that is alone: it owns every key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noPeers } from "@mccache/core";
 *
 * assert(noPeers.pickPeer("k") === undefined && noPeers.peers().length === 0);
 * ```
 */
export const noPeers: PeerPicker = Object.freeze({
  pickPeer: (): undefined => undefined,
  peers: (): readonly PeerGetter[] => [],
});
