// etcd that forgets: back with an empty data dir, or without a key whose
// lease lived on. Members must neither vanish from the discovery meanwhile
// nor stay unregistered.
import assert from "node:assert/strict";
import type { Etcd3 } from "etcd3";
import { recordingLogger, startEtcd } from "../_testing/etcd.ts";
import { TcpRelay } from "../_testing/relay.ts";
import { waitFor } from "../_testing/wait.ts";
import { openEtcd3 } from "./client.ts";
import { EtcdDiscovery } from "./discovery.ts";
import { EtcdRegistrar } from "./registrar.ts";

// grpc-js (inside etcd3) leaves channel timers and sockets behind for a while
// after client.close(); the tests close what they open regardless.
const GRPC_LEAKS = { sanitizeOps: false, sanitizeResources: false };
const LIVE = "127.0.0.1:8001";
const DEAD = "127.0.0.1:8002";

async function leaseOf(client: Etcd3, key: string): Promise<string | undefined> {
  const kv = (await client.get(key).exec()).kvs[0];
  return kv && String(kv.lease);
}

Deno.test({
  name: "Through etcd back empty, EtcdDiscovery keeps a member that registers again, " +
    "and drops one that does not only once its grace period is over and it does not answer",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const endpoints = [etcd.endpoint];
    const node = openEtcd3({ endpoints });
    const gateway = openEtcd3({ endpoints });
    const registrar = new EtcdRegistrar(node, LIVE, { leaseTtl: 2 });
    const calls: (readonly string[])[] = [];
    const asked: string[] = [];
    const discovery = new EtcdDiscovery(gateway, {
      graceMs: 2000,
      logger: recordingLogger(),
      onChange: (members) => calls.push(members),
      isReachable: (member) => {
        asked.push(member);
        return Promise.resolve(member === LIVE);
      },
    });
    try {
      await registrar.start({ timeout: 3000 });
      // A member that dies with etcd: nothing registers it again.
      await node.lease(2).put(`mccache/${DEAD}`).value(JSON.stringify({ Addr: DEAD }));
      assert.deepEqual(await discovery.start({ timeout: 3000 }), [LIVE, DEAD]);
      const before = discovery.registrationOf(LIVE);

      await etcd.kill();
      await waitFor(() => !discovery.connected, "the discovery notices the outage");
      await etcd.restart({ empty: true });
      await waitFor(
        () => discovery.registrationOf(LIVE) !== before,
        "the live member registered again",
      );
      await waitFor(() => discovery.members.length === 1, "the dead member dropped");

      assert.deepEqual(discovery.members, [LIVE]);
      assert.ok(discovery.connected);
      assert.ok(asked.includes(DEAD), "the dead member was asked before it was dropped");
      // Every list published on the way had the live member, and the dead
      // one until the end.
      assert.ok(calls.length > 0);
      assert.ok(calls.every((members) => members.includes(LIVE)), JSON.stringify(calls));
      assert.ok(calls.slice(0, -1).every((m) => m.includes(DEAD)), JSON.stringify(calls));
      assert.deepEqual(calls.at(-1), [LIVE]);
    } finally {
      await discovery.stop();
      await registrar.stop();
      node.close();
      gateway.close();
    }
  },
});

Deno.test({
  name: "EtcdRegistrar writes its key again when etcd lost it while the lease lived on",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const relay = new TcpRelay(etcd.endpoint);
    const node = openEtcd3({ endpoints: [relay.endpoint] });
    const admin = openEtcd3({ endpoints: [etcd.endpoint] });
    const log = recordingLogger();
    const registrar = new EtcdRegistrar(node, LIVE, { leaseTtl: 5, logger: log });
    const keepaliveFailed = () => log.records.some((r) => /keepalive failed/.test(r.message));
    try {
      await registrar.start({ timeout: 3000 });
      const lease = await leaseOf(admin, registrar.key);
      assert.ok(lease !== undefined);

      relay.cut();
      await waitFor(keepaliveFailed, "the registrar notices it is cut off");
      await admin.delete().key(registrar.key);
      relay.restore();

      await waitFor(() => leaseOf(admin, registrar.key), "the key written again");
      assert.equal(await leaseOf(admin, registrar.key), lease, "under the lease it kept");
      assert.ok(registrar.registered);
    } finally {
      await registrar.stop();
      relay.cut();
      node.close();
      admin.close();
    }
  },
});

Deno.test({
  name: "EtcdDiscovery notices a frozen etcd, and keeps the members whose leases it expires " +
    "when it runs again",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const endpoints = [etcd.endpoint];
    const node = openEtcd3({ endpoints });
    const gateway = openEtcd3({ endpoints });
    const registrar = new EtcdRegistrar(node, LIVE, { leaseTtl: 1 });
    const calls: (readonly string[])[] = [];
    const discovery = new EtcdDiscovery(gateway, {
      graceMs: 1000,
      onChange: (members) => calls.push(members),
      isReachable: () => Promise.resolve(true),
    });
    try {
      await registrar.start({ timeout: 3000 });
      assert.deepEqual(await discovery.start({ timeout: 3000 }), [LIVE]);
      const before = discovery.registrationOf(LIVE);
      etcd.pause();
      // The watch stays up and silent: only the probe can tell, within ~2 s,
      // by which time the 1 s lease is past renewing.
      await waitFor(() => !discovery.connected, "the discovery notices the freeze");
      etcd.resume();
      await waitFor(() => discovery.connected, "the discovery sees etcd again");
      await waitFor(
        () => discovery.registrationOf(LIVE) !== before,
        "the member registered again under a new lease",
      );
      assert.ok(calls.every((members) => members.includes(LIVE)), JSON.stringify(calls));
      assert.deepEqual(discovery.members, [LIVE]);
    } finally {
      await discovery.stop();
      await registrar.stop();
      node.close();
      gateway.close();
    }
  },
});
