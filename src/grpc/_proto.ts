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
