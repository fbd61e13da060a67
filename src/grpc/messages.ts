/**
 * The shapes of the gRPC messages of mccache (and of the Go original) as
 * proto-loader decodes them (keepCase, longs as numbers), and `ItemOp`. No
 * grpc-js: the status page and the tests read them without loading it.
 *
 * The stream's types are named for what they carry, gets, sets and removes
 * alike: {@linkcode Item}, {@linkcode ItemBatch}, {@linkcode ItemResult},
 * {@linkcode ResultBatch}. The `.proto` keeps the wire's names (`GetItem`,
 * `GetBatch`, `GetResult`, `GetResults`, method `GetStream`): renaming them
 * there would break compatibility with deployed nodes and gateways.
 * Internal: `@mccache/core/grpc` exports the public ones.
 *
 * @module
 */

export interface GetRequest {
  group: string;
  key: string;
  local: boolean;
}

export interface GetResponse {
  value: Uint8Array;
  ttl_ms: number;
}

export interface SetRequest {
  group: string;
  key: string;
  value: Uint8Array;
  ttl_ms: number;
  local: boolean;
}

export interface RemoveRequest {
  group: string;
  key: string;
  local: boolean;
}

/**
 * `mccache.v1.CacheStats`: one cache of a group, as a node's `Stats` call
 * reports it (the wire form of the core's `CacheStats`). The counts are int64
 * on the wire, numbers here.
 */
export interface CacheStatsMessage {
  /** Bytes charged: keys, values and the per-entry overhead. */
  bytes: number;
  /** Entries held. */
  items: number;
  /** Lookups. */
  gets: number;
  /** Lookups that found a live entry. */
  hits: number;
  /** Entries evicted to make room. */
  evictions: number;
}

/**
 * `mccache.v1.GroupStats`: one group of a node, as its `Stats` call reports
 * it (the wire form of the core's `GroupStats` and its caches' stats).
 */
export interface GroupStatsMessage {
  /** The group's name. */
  name: string;
  /** Gets, including those answered from cache. */
  gets: number;
  /** Gets answered from the main or hot cache. */
  cache_hits: number;
  /** Values fetched from the owning peer. */
  peer_loads: number;
  /** Failed peer calls. */
  peer_errors: number;
  /** Gets that missed the cache. */
  loads: number;
  /** Loads that went past singleflight. */
  loads_deduped: number;
  /** Successful getter calls. */
  local_loads: number;
  /** Failed getter calls, not-found included. */
  local_load_errs: number;
  /** Requests that came in over gRPC. */
  server_requests: number;
  /** The main cache: the keys this node owns. */
  main: CacheStatsMessage;
  /** The hot cache: copies of keys other nodes own. */
  hot: CacheStatsMessage;
  /** The group's byte budget, both caches together; 0 from nodes built before it was reported. */
  max_bytes: number;
}

/** `mccache.v1.StatsResponse`: what a node's `Stats` call answers. */
export interface StatsResponse {
  /** The node's address. */
  node: string;
  /** The members of the ring the node routes by, sorted. */
  members: string[];
  /** Every group the node serves. */
  groups: GroupStatsMessage[];
}

/** The Go original's geecachepb.Request. */
export interface GoOriginalRequest {
  group: string;
  key: string;
}

/** The Go original's geecachepb.Response. */
export interface GoOriginalResponse {
  value: Uint8Array;
}

/** GetItem.Op of proto/mccache.proto: what an {@linkcode Item} asks for. */
export const ItemOp = { GET: 0, SET: 1, REMOVE: 2 } as const;

/** One get, set or remove on a GetStream, with its request id (`GetItem` on the wire). */
export interface Item {
  id: number;
  group: string;
  key: string;
  timeout_ms: number;
  /** ItemOp; absent = GET. */
  op?: number;
  value?: Uint8Array;
  ttl_ms?: number;
  local?: boolean;
}

/** The items a gateway sends a node in one stream message (`GetBatch` on the wire). */
export interface ItemBatch {
  items: Item[];
}

/** The outcome of one item, by its id (`GetResult` on the wire). */
export interface ItemResult {
  id: number;
  value: Uint8Array;
  ttl_ms: number;
  code: number;
  error: string;
  error_name: string;
  /** SET/REMOVE: done at this node, the key's owner, only. */
  owner_only?: boolean;
}

/** The results a node sends back in one stream message (`GetResults` on the wire). */
export interface ResultBatch {
  results: ItemResult[];
}
