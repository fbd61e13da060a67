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

export interface CacheStatsMessage {
  bytes: number;
  items: number;
  gets: number;
  hits: number;
  evictions: number;
}

export interface GroupStatsMessage {
  name: string;
  gets: number;
  cache_hits: number;
  peer_loads: number;
  peer_errors: number;
  loads: number;
  loads_deduped: number;
  local_loads: number;
  local_load_errs: number;
  server_requests: number;
  main: CacheStatsMessage;
  hot: CacheStatsMessage;
  max_bytes: number;
}

export interface StatsResponse {
  node: string;
  members: string[];
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
