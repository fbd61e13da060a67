// A node's --max-value-bytes holds on every write path: a Set call, and a
// set item on a GetStream (as the gateway sends writes), over real sockets.
// grpc-js leaves timers and sockets behind after close: sanitizers are off.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { errorStatus, TooLargeError } from "../errors.ts";
import { Group } from "../group.ts";
import { GroupRegistry } from "../registry.ts";
import { GrpcUpstream } from "./grpc_upstream.ts";
import { startNode } from "../node/node.ts";
import { freePort } from "../_testing/ports.ts";
import { CacheClient } from "./_proto.ts";
import { privateHooksOn } from "./_direct_stream.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "A node refuses values over its maxValueBytes on every write path, with RESOURCE_EXHAUSTED",
  ...sanitizers,
  async fn() {
    const addr = `127.0.0.1:${freePort()}`;
    const registry = new GroupRegistry();
    const group = new Group({ name: "g", maxBytes: 1 << 20, registry, getter: () => "loaded" });
    const node = await startNode({ addr, registry, peers: [addr], maxValueBytes: 1000 });
    const upstream = new GrpcUpstream({ members: [addr] });
    const client = new CacheClient(addr, grpc.credentials.createInsecure());
    const deadline = Date.now() + 5000;
    try {
      // Through a GetStream, as the gateway writes.
      await assert.rejects(
        upstream.set("g", "big", new Uint8Array(1001), undefined, { deadline }),
        (error: Error) =>
          error instanceof TooLargeError && /1001 bytes.*1000 bytes/.test(error.message),
      );
      await upstream.set("g", "fits", new Uint8Array(1000), undefined, { deadline });
      assert.equal((await group.get("fits")).length, 1000);
      // A Set call, as another node forwards a write.
      const set = (value: Uint8Array) =>
        new Promise<grpc.ServiceError | null>((resolve) =>
          (client as unknown as { Set: CallableFunction }).Set(
            { group: "g", key: "big", value, ttl_ms: 0, local: true },
            { deadline },
            resolve,
          )
        );
      assert.equal((await set(new Uint8Array(1001)))?.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(await set(new Uint8Array(10)), null);
      assert.equal((await group.get("big")).length, 10);
    } finally {
      client.close();
      upstream.close();
      await node.stop();
    }
  },
});

Deno.test({
  ignore: !privateHooksOn(),
  name: "A node refuses messages past its maxBufferedBytes with RESOURCE_EXHAUSTED, on every path",
  ...sanitizers,
  async fn() {
    const addr = `127.0.0.1:${freePort()}`;
    const registry = new GroupRegistry();
    const group = new Group({ name: "g", maxBytes: 1 << 20, registry, getter: () => "loaded" });
    const node = await startNode({ addr, registry, peers: [addr], maxBufferedBytes: 64 << 10 });
    const upstream = new GrpcUpstream({ members: [addr] });
    const client = new CacheClient(addr, grpc.credentials.createInsecure());
    const deadline = Date.now() + 5000;
    const set = (value: Uint8Array) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        (client as unknown as { Set: CallableFunction }).Set(
          { group: "g", key: "k", value, ttl_ms: 0, local: true },
          { deadline },
          resolve,
        )
      );
    try {
      assert.equal((await set(new Uint8Array(100 << 10)))?.code, grpc.status.RESOURCE_EXHAUSTED);
      await assert.rejects(
        upstream.set("g", "big", new Uint8Array(100 << 10), undefined, { deadline }),
        (error: Error) =>
          errorStatus(error).http === 503 && /RESOURCE_EXHAUSTED/.test(error.message),
      );
      assert.equal(node.refusedMessages, 2);
      // Messages that fit pass, and nothing stays charged.
      assert.equal(await set(new Uint8Array(60 << 10)), null);
      await upstream.set("g", "fits", new Uint8Array(60 << 10), undefined, { deadline });
      assert.equal((await group.get("fits")).length, 60 << 10);
      assert.equal(node.bufferedBytes, 0);
    } finally {
      client.close();
      upstream.close();
      await node.stop();
    }
  },
});
