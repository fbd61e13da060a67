// Node-to-node calls with MemberHealth: a peer that answers nothing, not even
// a ping, is given up on before the deadline; a live peer slow with a load is
// waited for. Real sockets; grpc-js leaves timers behind, so the sanitizers
// are off.
import assert from "node:assert/strict";
import { Group } from "../group.ts";
import { deadlineSignal } from "./deadline.ts";
import { GrpcPeerPicker } from "./peer_picker.ts";
import { cluster } from "./_testing.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

// A peer that accepts connections and never says a word: a frozen process.
function silentPeer(): { addr: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) conns.push(conn);
  })().catch(() => {});
  return {
    addr: `127.0.0.1:${listener.addr.port}`,
    close() {
      for (const conn of conns) conn.close();
      listener.close();
    },
  };
}

Deno.test({
  name:
    "A node gives up on an owner that answers nothing, not even a ping, loads the key itself, and skips it after",
  ...sanitizers,
  async fn() {
    const silent = silentPeer();
    const self = "127.0.0.1:1";
    const picker = new GrpcPeerPicker(self, { hedgeAfter: 20 });
    picker.setMembers([self, silent.addr]);
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => picker.pickPeer(k))!;
    const group = new Group({ name: "g", maxBytes: 1 << 20, getter: (k) => `local ${k}` });
    group.registerPeers(picker);
    try {
      const view = await group.get(key, { signal: deadlineSignal(30_000) });
      assert.equal(view.text(), `local ${key}`);
      assert.equal(group.stats().peerErrors, 1);
      assert.equal(picker.health.suspect(silent.addr), true);
      assert.equal(picker.pickPeer(key), undefined);
    } finally {
      picker.close();
      silent.close();
    }
  },
});

Deno.test({
  name: "A node waits for a live owner slow with a load: the key is loaded once",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(2, 300);
    for (const node of nodes) {
      node.picker.close(); // replaced by pickers that hedge early
    }
    const pickers = nodes.map((node) => new GrpcPeerPicker(node.addr, { hedgeAfter: 20 }));
    for (const [i, node] of nodes.entries()) {
      pickers[i].setMembers(nodes.map((n) => n.addr));
      node.registry.registerPeers(pickers[i]);
    }
    try {
      const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) =>
        pickers[0].pickPeer(k)
      )!;
      const view = await nodes[0].registry.get("g")!.get(key);
      assert.equal(view.text(), `value of ${key}`);
      assert.deepEqual([nodes[0].loads, nodes[1].loads], [[], [key]]);
      assert.equal(pickers[0].health.suspect(nodes[1].addr), false);
    } finally {
      for (const picker of pickers) picker.close();
    }
  },
});
