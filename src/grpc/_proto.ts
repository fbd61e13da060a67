// The gRPC services of mccache (and of the Go original), built from the
// descriptors embedded in _descriptors.ts, with TypeScript shapes of their
// messages as proto-loader decodes them (keepCase, longs as numbers).
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { INamespace } from "protobufjs";
import { geecachepb, mccache } from "./_descriptors.ts";
import {
  decodeGetBatch,
  decodeGetResults,
  encodeGetBatch,
  encodeGetResults,
} from "./_stream_codec.ts";

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  defaults: true,
};

function load(descriptor: unknown): grpc.GrpcObject {
  const definition = protoLoader.fromJSON(descriptor as INamespace, LOADER_OPTIONS);
  // GetStream carries the gateway's traffic: it uses the hand-written codec
  // (same bytes as protobufjs, fewer objects), on both ends. Set before the
  // client class is made: its methods keep the serializers they were made with.
  const getStream = (definition["mccache.v1.Cache"] as grpc.ServiceDefinition | undefined)
    ?.GetStream;
  if (getStream) {
    Object.assign(getStream, {
      requestSerialize: encodeGetBatch,
      requestDeserialize: decodeGetBatch,
      responseSerialize: encodeGetResults,
      responseDeserialize: decodeGetResults,
    });
  }
  return grpc.loadPackageDefinition(definition);
}

type ServiceClient = grpc.ServiceClientConstructor;

const v1 = (load(mccache).mccache as grpc.GrpcObject).v1 as grpc.GrpcObject;
const gee = load(geecachepb).geecachepb as grpc.GrpcObject;

/** mccache.v1.Cache: client constructor; `.service` is the service definition. */
export const CacheClient = v1.Cache as ServiceClient;
/** geecachepb.McCache, the Go original's service. */
export const GeeCacheClient = gee.McCache as ServiceClient;

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
