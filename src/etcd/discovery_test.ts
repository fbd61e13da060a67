import assert from "node:assert/strict";
import { recordingLogger, startEtcd } from "../_testing/etcd.ts";
import { waitFor } from "../_testing/wait.ts";
import { freePort } from "../_testing/ports.ts";
import { TcpRelay } from "../_testing/relay.ts";
import { openEtcd3 } from "./client.ts";
import { EtcdDiscovery } from "./discovery.ts";
import { EtcdRegistrar } from "./registrar.ts";

// grpc-js (inside etcd3) leaves channel timers and sockets behind for a while
// after client.close(), which the op and resource sanitizers would report for
// every test that talks to etcd. The tests close what they open regardless.
const GRPC_LEAKS = { sanitizeOps: false, sanitizeResources: false };

// Records onChange calls and lets a test wait for a given member list, even
// one that arrived before it asked.
function changeLog(): {
  calls: (readonly string[])[];
  onChange: (members: readonly string[]) => void;
  until: (members: string[], timeout?: number) => Promise<number>;
} {
  const calls: (readonly string[])[] = [];
  let lastAt = 0;
  const waiters = new Set<{ members: string; resolve: (at: number) => void }>();
  return {
    calls,
    onChange(members) {
      calls.push(members);
      lastAt = performance.now();
      for (const w of waiters) if (w.members === JSON.stringify(members)) w.resolve(lastAt);
    },
    until(members, timeout = 5000) {
      if (JSON.stringify(calls.at(-1)) === JSON.stringify(members)) return Promise.resolve(lastAt);
      return new Promise((resolve, reject) => {
        const waiter = {
          members: JSON.stringify(members),
          resolve: (at: number) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(at);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`Timed out waiting for ${members}: calls ${JSON.stringify(calls)}`));
        }, timeout);
        waiters.add(waiter);
      });
    },
  };
}

Deno.test({
  name:
    "EtcdDiscovery.start returns the addresses under the prefix sorted, ignoring Metadata and bad values",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const client = openEtcd3({ endpoints: [etcd.endpoint] });
    const log = recordingLogger();
    const discovery = new EtcdDiscovery(client, { logger: log });
    try {
      await client.put("mccache/127.0.0.1:8002").value(
        '{"Addr":"127.0.0.1:8002","Metadata":{"weight":2}}',
      );
      await client.put("mccache/127.0.0.1:8001").value('{"Addr":"127.0.0.1:8001"}');
      await client.put("mccache/garbage").value("not json");
      await client.put("mccache/no-addr").value('{"Metadata":1}');
      await client.put("mccache2/127.0.0.1:9000").value('{"Addr":"127.0.0.1:9000"}');
      await client.put("other/127.0.0.1:9001").value('{"Addr":"127.0.0.1:9001"}');

      const members = await discovery.start({ timeout: 3000 });
      assert.deepEqual(members, ["127.0.0.1:8001", "127.0.0.1:8002"]);
      assert.equal(discovery.members, members);
      const skipped = log.records.filter((r) => r.level === "warn").map((r) => r.fields?.key);
      assert.deepEqual(skipped, ["mccache/garbage", "mccache/no-addr"]);
    } finally {
      await discovery.stop();
      client.close();
    }
  },
});

Deno.test({
  name: "EtcdDiscovery follows joins and leaves, and calls onChange only when the set changes",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const client = openEtcd3({ endpoints: [etcd.endpoint] });
    const changes = changeLog();
    const log = recordingLogger();
    const discovery = new EtcdDiscovery(client, { logger: log, onChange: changes.onChange });
    const a = new EtcdRegistrar(client, "127.0.0.1:8001");
    try {
      assert.deepEqual(await discovery.start({ timeout: 3000 }), []);
      await a.start({ timeout: 3000 });
      await changes.until(["127.0.0.1:8001"]);
      await client.put("mccache/127.0.0.1:8002").value('{"Addr":"127.0.0.1:8002"}');
      await changes.until(["127.0.0.1:8001", "127.0.0.1:8002"]);
      // A rewrite of a known node's key (here with Metadata) is no change;
      // the watch is ordered, so once A's leave is seen the rewrite was too.
      await client.put("mccache/127.0.0.1:8002").value('{"Addr":"127.0.0.1:8002","Metadata":1}');
      await a.stop();
      await changes.until(["127.0.0.1:8002"]);
      await client.delete().key("mccache/127.0.0.1:8002");
      await changes.until([]);

      assert.deepEqual(changes.calls, [
        ["127.0.0.1:8001"],
        ["127.0.0.1:8001", "127.0.0.1:8002"],
        ["127.0.0.1:8002"],
        [],
      ]);
      const lines = log.records.filter((r) => r.level === "info").map((r) =>
        `${r.message} ${r.fields?.addr ?? ""}`.trim()
      );
      assert.deepEqual(lines, [
        "Discovered members in etcd",
        "Member joined 127.0.0.1:8001",
        "Member joined 127.0.0.1:8002",
        "Member left 127.0.0.1:8001",
        "Member left 127.0.0.1:8002",
      ]);
    } finally {
      await a.stop();
      await discovery.stop();
      client.close();
    }
  },
});

Deno.test({
  name: "EtcdDiscovery reads the Go original's values, calls onChange when a member registers " +
    "again, and warns once when the ring is not the Go original's",
  ...GRPC_LEAKS,
  async fn(t) {
    await using etcd = await startEtcd();
    const client = openEtcd3({ endpoints: [etcd.endpoint] });
    const goValue = (addr: string) => JSON.stringify({ Op: 0, Addr: addr, Metadata: null });
    const register = async (addr: string) => {
      const lease = client.lease(5);
      await lease.put(`mccache/${addr}`).value(goValue(addr));
      return lease;
    };
    const warnings = (log: ReturnType<typeof recordingLogger>) =>
      log.records.filter((r) => r.level === "warn" && /--ring seed/.test(r.message));
    const leases = [await register("127.0.0.1:8001")];
    try {
      await t.step("a member's registration changes with its lease", async () => {
        const changes = changeLog();
        const log = recordingLogger();
        const discovery = new EtcdDiscovery(client, { logger: log, onChange: changes.onChange });
        try {
          assert.deepEqual(await discovery.start({ timeout: 3000 }), ["127.0.0.1:8001"]);
          const first = discovery.registrationOf("127.0.0.1:8001");
          assert.ok(first !== undefined);
          // Restarted within its TTL: the same key, put under a new lease.
          leases.push(await register("127.0.0.1:8001"));
          await waitFor(
            () => discovery.registrationOf("127.0.0.1:8001") !== first,
            "the new registration is seen",
          );
          await changes.until(["127.0.0.1:8001"]);
          assert.equal(discovery.registrationOf("127.0.0.1:9"), undefined);
          // A Go member joined, and the ring is not the Go original's: one warning.
          leases.push(await register("127.0.0.1:8002"));
          await changes.until(["127.0.0.1:8001", "127.0.0.1:8002"]);
          assert.equal(warnings(log).length, 1, JSON.stringify(log.records));
          assert.equal(warnings(log)[0].fields?.addr, "127.0.0.1:8001");
        } finally {
          await discovery.stop();
        }
      });
      await t.step("no warning with the Go original's ring", async () => {
        const log = recordingLogger();
        const discovery = new EtcdDiscovery(client, { logger: log, seedRing: true });
        try {
          await discovery.start({ timeout: 3000 });
          assert.deepEqual(warnings(log), []);
        } finally {
          await discovery.stop();
        }
      });
      await t.step("no warning for mccache's own values", async () => {
        for (const lease of leases) await lease.revoke();
        await client.put("mccache/127.0.0.1:8003").value('{"Addr":"127.0.0.1:8003"}');
        const log = recordingLogger();
        const discovery = new EtcdDiscovery(client, { logger: log });
        try {
          assert.deepEqual(await discovery.start({ timeout: 3000 }), ["127.0.0.1:8003"]);
          assert.deepEqual(warnings(log), []);
        } finally {
          await discovery.stop();
        }
      });
    } finally {
      for (const lease of leases) await lease.revoke().catch(() => {});
      client.close();
    }
  },
});

Deno.test({
  name:
    "EtcdDiscovery reads the members again after it was cut off from etcd, even past a compaction, " +
    "and drops a member that left meanwhile once its grace period is over and it does not answer",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const admin = openEtcd3({ endpoints: [etcd.endpoint] });
    const relay = new TcpRelay(etcd.endpoint);
    const gateway = openEtcd3({ endpoints: [relay.endpoint] });
    const changes = changeLog();
    const log = recordingLogger();
    const asked: string[] = [];
    const discovery = new EtcdDiscovery(gateway, {
      logger: log,
      onChange: changes.onChange,
      graceMs: 300,
      isReachable: (member) => {
        asked.push(member);
        return Promise.resolve(false);
      },
    });
    const warnings = (): string[] =>
      log.records.filter((r) => r.level === "warn").map((r) => r.message);
    try {
      await admin.put("mccache/127.0.0.1:8001").value('{"Addr":"127.0.0.1:8001"}');
      await admin.put("mccache/127.0.0.1:8002").value('{"Addr":"127.0.0.1:8002"}');
      await discovery.start({ timeout: 3000 });

      relay.cut();
      await waitFor(() => warnings().length > 0, "discovery to notice", 5000);
      // Changes it cannot see, and a compaction that erases them from the
      // history the watch would resume from.
      await admin.delete().key("mccache/127.0.0.1:8001");
      await admin.put("mccache/127.0.0.1:8003").value('{"Addr":"127.0.0.1:8003"}');
      const revision = (await admin.get("x").exec()).header.revision;
      await admin.kv.compact({ revision, physical: true });

      const restoredAt = performance.now();
      relay.restore();
      const seenAt = await changes.until(["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]);
      console.log(
        `measured: members read again ${(seenAt - restoredAt).toFixed(0)} ms after reconnect`,
      );
      await changes.until(["127.0.0.1:8002", "127.0.0.1:8003"]);
      assert.deepEqual(changes.calls, [
        ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"],
        ["127.0.0.1:8002", "127.0.0.1:8003"],
      ]);
      assert.deepEqual(asked, ["127.0.0.1:8001"]);
      assert.deepEqual(warnings(), [
        "Lost the connection to etcd; members may be stale",
        "etcd lost members after an outage; keeping them while they register again",
      ]);
      // It watches again: a later join arrives.
      await admin.put("mccache/127.0.0.1:8004").value('{"Addr":"127.0.0.1:8004"}');
      await changes.until(["127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:8004"]);
    } finally {
      await discovery.stop();
      relay.cut();
      admin.close();
      gateway.close();
    }
  },
});

Deno.test({
  name:
    "EtcdDiscovery.start rejects within its timeout with a one-line error when etcd is out of reach",
  ...GRPC_LEAKS,
  async fn() {
    const endpoint = `127.0.0.1:${freePort()}`;
    const client = openEtcd3({ endpoints: [endpoint] });
    const discovery = new EtcdDiscovery(client);
    try {
      const startedAt = performance.now();
      const error = await discovery.start({ timeout: 1000 }).then(() => undefined, (e) => e);
      const ms = performance.now() - startedAt;
      assert.ok(error instanceof Error);
      assert.match(
        error.message,
        new RegExp(`^Cannot discover members in etcd at ${endpoint} within 1000 ms: \\S[^\\n]*$`),
      );
      assert.ok(ms >= 900 && ms < 1500, `rejected after ${ms} ms`);
      assert.deepEqual(discovery.members, []);
    } finally {
      await discovery.stop();
      client.close();
    }
  },
});
