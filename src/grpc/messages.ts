/**
 * The shapes of the gRPC messages of mccache (and of the Go original) as
 * proto-loader decodes them (keepCase, longs as numbers), and `ItemOp`. No
 * grpc-js: the status page and the tests read them without loading it.
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

/** The seed's geecachepb.Request. */
export interface SeedRequest {
  group: string;
  key: string;
}

/** The seed's geecachepb.Response. */
export interface SeedResponse {
  value: Uint8Array;
}

/** GetItem.Op of proto/mccache.proto. */
export const ItemOp = { GET: 0, SET: 1, REMOVE: 2 } as const;

export interface GetItem {
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

export interface GetBatch {
  items: GetItem[];
}

export interface GetResult {
  id: number;
  value: Uint8Array;
  ttl_ms: number;
  code: number;
  error: string;
  error_name: string;
  /** SET/REMOVE: done at this node, the key's owner, only. */
  owner_only?: boolean;
}

export interface GetResults {
  results: GetResult[];
}
