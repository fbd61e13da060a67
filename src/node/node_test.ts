// A node whose start-up fails half-way releases what it had opened: its gRPC
// port, its etcd client and its registration.
// grpc-js (inside etcd3 too) leaves timers behind for a while after close:
// sanitizers are off, and the tests check the sockets themselves instead.
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { GroupRegistry } from "../registry.ts";
import { startEtcd } from "../_testing/etcd.ts";
import { freePort } from "../_testing/ports.ts";
import { TcpRelay } from "../_testing/relay.ts";
import { waitFor } from "../_testing/wait.ts";
import { startNode } from "./node.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

// Binding the port again is the proof that nothing listens there any more.
function assertFree(port: number): void {
  Deno.listen({ hostname: "127.0.0.1", port }).close();
}

Deno.test({
  name:
    "A node whose HTTP address is in use frees its gRPC port, leaves etcd and closes its client",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcd();
    const relay = new TcpRelay(etcd.endpoint);
    const busy = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    const port = freePort();
    const admin = new Etcd3({ hosts: etcd.url });
    try {
      await assert.rejects(
        startNode({
          addr: `127.0.0.1:${port}`,
          registry: new GroupRegistry(),
          etcd: { endpoints: [relay.endpoint], timeout: 5000 },
          httpAddr: `127.0.0.1:${(busy.addr as Deno.NetAddr).port}`,
        }),
        /Cannot listen on 127\.0\.0\.1:\d+: address already in use/,
      );
      assertFree(port);
      assert.deepEqual(await admin.getAll().prefix("mccache/").keys(), []);
      assert.ok(relay.relayed > 0, "the node talked to etcd");
      await waitFor(() => relay.clients === 0, "the node's etcd connections to close");
    } finally {
      admin.close();
      relay.cut();
      busy.close();
    }
  },
});

Deno.test({
  name: "A node that cannot reach etcd within its timeout frees its gRPC port",
  ...sanitizers,
  async fn() {
    // Nothing listens there. An etcd that accepts and never answers would do
    // for the port, but not for the client: grpc-js waits for its HTTP/2
    // SETTINGS with no timeout, and keeps that socket after the channel
    // closed (grpc/grpc-node#2785; over a minute here, measured).
    const port = freePort();
    await assert.rejects(
      startNode({
        addr: `127.0.0.1:${port}`,
        registry: new GroupRegistry(),
        etcd: { endpoints: [`127.0.0.1:${freePort()}`], timeout: 300 },
      }),
      /Cannot discover members in etcd/,
    );
    assertFree(port);
  },
});
