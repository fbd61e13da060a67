// The gRPC services of mccache (and of the Go original), built from the
// descriptors embedded in _descriptors.ts; their messages' shapes are in
// messages.ts.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { INamespace } from "protobufjs";
import { geecachepb, mccache } from "./_descriptors.ts";
import {
  decodeItemBatch,
  decodeResultBatch,
  encodeItemBatch,
  encodeResultBatch,
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
      requestSerialize: encodeItemBatch,
      requestDeserialize: decodeItemBatch,
      responseSerialize: encodeResultBatch,
      responseDeserialize: decodeResultBatch,
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
