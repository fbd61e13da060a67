// The public signatures describe grpc-js's objects by their shape (so that
// the docs stand without grpc-js's types); these tests hold that grpc-js's
// own objects still fit them without casts, and ours fit grpc-js.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { GroupRegistry } from "../registry.ts";
import { GrpcPeer, keepaliveOptions, NODE_CHANNEL_OPTIONS } from "./peer.ts";
import { addCacheServices } from "./server.ts";
import { ERROR_METADATA_KEY, fromServiceError } from "./status.ts";

Deno.test("addCacheServices takes a grpc-js Server", () => {
  const server = new grpc.Server();
  const services = addCacheServices(server, new GroupRegistry(), { self: "127.0.0.1:8001" });
  services.endStreams();
  server.forceShutdown();
});

Deno.test("channel options pass both ways between grpc-js and GrpcPeer", () => {
  const theirs: grpc.ChannelOptions = { "grpc.max_receive_message_length": 1 << 20 };
  new GrpcPeer("127.0.0.1:8001", { channelOptions: theirs }).close();
  const ours: grpc.ChannelOptions = { ...NODE_CHANNEL_OPTIONS, ...keepaliveOptions(1000) };
  new grpc.Client("127.0.0.1:8001", grpc.credentials.createInsecure(), ours).close();
});

Deno.test("fromServiceError takes a grpc-js ServiceError", () => {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_METADATA_KEY, "NotFoundError");
  const error: grpc.ServiceError = Object.assign(new Error("5 NOT_FOUND: Tom not exist"), {
    code: grpc.status.NOT_FOUND,
    details: "Tom not exist",
    metadata,
  });
  const rebuilt = fromServiceError(error, "127.0.0.1:8001");
  assert.equal(rebuilt.name, "NotFoundError");
  assert.equal(rebuilt.message, "Tom not exist");
});
