// A gateway whose start-up fails half-way releases what it had opened.
// grpc-js (inside etcd3 too) leaves timers behind for a while after close:
// sanitizers are off, and the tests check the sockets themselves instead.
import assert from "node:assert/strict";
import { startEtcd } from "../_testing/etcd.ts";
import { freePort } from "../_testing/ports.ts";
import { TcpRelay } from "../_testing/relay.ts";
import { waitFor } from "../_testing/wait.ts";
import { startGateway } from "./gateway.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "A gateway whose address is in use closes its etcd client",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcd();
    const relay = new TcpRelay(etcd.endpoint);
    const busy = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    try {
      await assert.rejects(
        startGateway({
          addr: `127.0.0.1:${(busy.addr as Deno.NetAddr).port}`,
          etcd: { endpoints: [relay.endpoint] },
        }),
        /Cannot listen on 127\.0\.0\.1:\d+: address already in use/,
      );
      assert.ok(relay.relayed > 0, "the gateway talked to etcd");
      await waitFor(() => relay.clients === 0, "the gateway's etcd connections to close");
    } finally {
      relay.cut();
      busy.close();
    }
  },
});

Deno.test({
  name: "A gateway that cannot reach etcd within its timeout leaves its address free",
  ...sanitizers,
  async fn() {
    const port = freePort();
    await assert.rejects(
      startGateway({
        addr: `127.0.0.1:${port}`,
        etcd: { endpoints: [`127.0.0.1:${freePort()}`], timeout: 300 },
      }),
      /Cannot discover members in etcd/,
    );
    // Binding the port again is the proof that nothing listens there.
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  },
});
