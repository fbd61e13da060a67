import assert from "node:assert/strict";
import type { Etcd3 } from "etcd3";
import { enableEtcdAuth, recordingLogger, startEtcd } from "../_testing/etcd.ts";
import { makeCerts } from "../_testing/certs.ts";
import { waitFor } from "../_testing/wait.ts";
import { freePort } from "../_testing/ports.ts";
import { createEtcdClient, openEtcd3 } from "./client.ts";
import { EtcdDiscovery } from "./discovery.ts";
import { EtcdRegistrar } from "./registrar.ts";

// grpc-js (inside etcd3) leaves channel timers and sockets behind for a while
// after client.close(), which the op and resource sanitizers would report for
// every test that talks to etcd. The tests close what they open regardless.
const GRPC_LEAKS = { sanitizeOps: false, sanitizeResources: false };
const ADDR = "127.0.0.1:8001";
const SEED_VALUE = '{"Addr":"127.0.0.1:8001"}';

async function keyAndLease(client: Etcd3, key: string): Promise<[string, string] | undefined> {
  const kv = (await client.get(key).exec()).kvs[0];
  return kv && [kv.value.toString(), String(kv.lease)];
}

Deno.test({
  name: "A registrar and a discovery work through the EtcdClient handle that users get",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const client = createEtcdClient({ endpoints: [etcd.endpoint] });
    const registrar = new EtcdRegistrar(client, ADDR);
    const discovery = new EtcdDiscovery(client);
    try {
      await registrar.start({ timeout: 3000 });
      assert.deepEqual(await discovery.start({ timeout: 3000 }), [ADDR]);
      await registrar.stop();
      await waitFor(() => discovery.members.length === 0, "the discovery saw the node leave");
    } finally {
      await discovery.stop();
      await registrar.stop();
      client.close();
    }
  },
});

Deno.test({
  name: "EtcdRegistrar.start writes the seed key and value under a lease of leaseTtl seconds",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const client = openEtcd3({ endpoints: [etcd.endpoint] });
    try {
      const changes: boolean[] = [];
      const registrar = new EtcdRegistrar(client, ADDR, { onChange: (r) => changes.push(r) });
      await registrar.start({ timeout: 3000 });
      assert.equal(registrar.registered, true);
      const kvs = (await client.getAll().prefix("mccache/").exec()).kvs;
      assert.deepEqual(
        kvs.map((kv) => [kv.key.toString(), kv.value.toString()]),
        [["mccache/127.0.0.1:8001", SEED_VALUE]],
      );
      const lease = await client.leaseClient.leaseTimeToLive({ ID: kvs[0].lease });
      assert.equal(String(lease.grantedTTL), "5");
      await registrar.stop();
      assert.deepEqual(changes, [true, false]);
      assert.equal(await client.get("mccache/127.0.0.1:8001").string(), null);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "EtcdRegistrar.stop revokes the lease, so a discovery sees the node leave in under 1 s",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const node = openEtcd3({ endpoints: [etcd.endpoint] });
    const gateway = openEtcd3({ endpoints: [etcd.endpoint] });
    let left: () => void;
    const leaving = new Promise<void>((resolve) => left = resolve);
    const discovery = new EtcdDiscovery(gateway, {
      onChange: (members) => members.length === 0 && left(),
    });
    try {
      const registrar = new EtcdRegistrar(node, ADDR);
      await registrar.start({ timeout: 3000 });
      assert.deepEqual(await discovery.start({ timeout: 3000 }), [ADDR]);
      const stopAt = performance.now();
      await registrar.stop();
      await leaving;
      const ms = performance.now() - stopAt;
      console.log(`measured: discovery saw the node leave ${ms.toFixed(1)} ms after stop()`);
      assert.ok(ms < 1000, `left after ${ms} ms`);
    } finally {
      await discovery.stop();
      node.close();
      gateway.close();
    }
  },
});

Deno.test({
  name: "EtcdRegistrar registers again at once when its lease is revoked behind its back",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const client = openEtcd3({ endpoints: [etcd.endpoint] });
    const log = recordingLogger();
    const changes: [boolean, number][] = [];
    const registrar = new EtcdRegistrar(client, ADDR, {
      leaseTtl: 2,
      logger: log,
      onChange: (registered) => changes.push([registered, performance.now()]),
    });
    try {
      await registrar.start({ timeout: 3000 });
      const [, lease] = (await keyAndLease(client, registrar.key))!;
      const revokedAt = performance.now();
      await client.leaseClient.leaseRevoke({ ID: lease });
      await waitFor(() => changes.length === 3, "registered again", 3000);
      const ms = changes[2][1] - revokedAt;
      console.log(`measured: registered again ${ms.toFixed(0)} ms after the lease was revoked`);
      assert.deepEqual(changes.map(([registered]) => registered), [true, false, true]);
      const [value, newLease] = (await keyAndLease(client, registrar.key))!;
      assert.equal(value, SEED_VALUE);
      assert.notEqual(newLease, lease);
      assert.deepEqual(
        log.records.filter((r) => r.level !== "debug").map((r) => r.message),
        [
          "Registered in etcd",
          "Lost the etcd registration; registering again",
          "Registered in etcd again",
        ],
      );
    } finally {
      await registrar.stop();
      client.close();
    }
  },
});

Deno.test({
  name:
    "EtcdRegistrar registers again within 5 s of etcd's return after its lease was lost in an outage, and discovery resyncs",
  ...GRPC_LEAKS,
  async fn() {
    await using etcd = await startEtcd();
    const endpoints = [etcd.endpoint];
    const node = openEtcd3({ endpoints });
    const doomed = openEtcd3({ endpoints });
    const gateway = openEtcd3({ endpoints });
    const changes: [boolean, number][] = [];
    const registrar = new EtcdRegistrar(node, ADDR, {
      leaseTtl: 2,
      onChange: (registered) => changes.push([registered, performance.now()]),
    });
    const gatewayLog = recordingLogger();
    // The dead node's address is nobody's: that it does not answer must not
    // depend on what else runs on this machine.
    const discovery = new EtcdDiscovery(gateway, {
      logger: gatewayLog,
      isReachable: () => Promise.resolve(false),
    });
    try {
      await registrar.start({ timeout: 3000 });
      const [, oldLease] = (await keyAndLease(node, registrar.key))!;
      // A second node that dies during the outage: its key must go after it.
      const doomedLease = doomed.lease(2);
      await doomedLease.put("mccache/127.0.0.1:8002").value('{"Addr":"127.0.0.1:8002"}');
      assert.deepEqual(await discovery.start({ timeout: 3000 }), [ADDR, "127.0.0.1:8002"]);

      const killedAt = performance.now();
      await etcd.kill();
      doomedLease.release();
      doomed.close();
      // etcd3 gives a lease up after 2 TTLs without a keepalive answer.
      await waitFor(() => changes.length === 2, "the registrar to lose its lease", 8000);
      // Keep etcd down a while longer, so the retries run into their 1 s cap.
      await new Promise((resolve) => setTimeout(resolve, killedAt + 6000 - performance.now()));
      await etcd.restart();
      const readyAt = performance.now();

      await waitFor(() => changes.length === 3, "registered again", 5000);
      const ms = changes[2][1] - readyAt;
      console.log(`measured: registered again ${ms.toFixed(0)} ms after etcd was ready again`);
      assert.ok(ms < 5000);
      // The old lease is alive again after the restart (etcd renews leases
      // when it becomes leader), then expires: the key must stay.
      await waitFor(
        async () => {
          const old = await node.leaseClient.leaseTimeToLive({ ID: oldLease });
          return String(old.TTL) === "-1";
        },
        "the old lease to expire",
        5000,
      );
      const [value, lease] = (await keyAndLease(node, registrar.key))!;
      assert.equal(value, SEED_VALUE);
      assert.notEqual(lease, oldLease);

      await waitFor(() => discovery.members.length === 1, "discovery to drop the dead node", 5000);
      assert.deepEqual(discovery.members, [ADDR]);
      const messages = gatewayLog.records.filter((r) => r.level !== "debug").map((r) => r.message);
      // A busy machine may lose the connection more than once: the order holds, not the count.
      const lost = messages.findIndex((m) => m.startsWith("Lost the connection"));
      const back = messages.findLastIndex((m) => m.startsWith("Connected to etcd again"));
      assert.ok(lost >= 0 && back > lost, messages.join("\n"));
    } finally {
      await discovery.stop();
      await registrar.stop();
      node.close();
      gateway.close();
    }
  },
});

Deno.test({
  name:
    "EtcdRegistrar.start rejects within its timeout with a one-line error when etcd is out of reach",
  ...GRPC_LEAKS,
  async fn(t) {
    const cases: [string, () => Promise<{ endpoint: string; close(): Promise<void> }>][] = [
      [
        "nothing listens",
        () =>
          Promise.resolve({ endpoint: `127.0.0.1:${freePort()}`, close: () => Promise.resolve() }),
      ],
      ["etcd hangs", async () => {
        const etcd = await startEtcd();
        etcd.pause();
        return etcd;
      }],
    ];
    for (const [what, target] of cases) {
      await t.step(what, async () => {
        const server = await target();
        const endpoint = server.endpoint;
        const client = openEtcd3({ endpoints: [endpoint] });
        const registrar = new EtcdRegistrar(client, ADDR);
        try {
          const startedAt = performance.now();
          const error = await registrar.start({ timeout: 1000 }).then(() => undefined, (e) => e);
          const ms = performance.now() - startedAt;
          assert.ok(error instanceof Error);
          assert.match(
            error.message,
            new RegExp(`^Cannot register in etcd at ${endpoint} within 1000 ms: \\S`),
          );
          assert.doesNotMatch(error.message, /\n/);
          assert.ok(ms >= 900 && ms < 1500, `rejected after ${ms} ms`);
          assert.equal(registrar.registered, false);
        } finally {
          await registrar.stop();
          client.close();
          await server.close();
        }
      });
    }
  },
});

Deno.test({
  name: "Against etcd with authentication, the right user and password register and discover; " +
    "a wrong or missing one fails at once, in one line that says so",
  ...GRPC_LEAKS,
  async fn(t) {
    for (const secure of [false, true]) {
      await t.step(secure ? "over TLS with a client certificate" : "in plaintext", async () => {
        await using certs = await makeCerts();
        const etcdTls = secure ? { ...certs.etcd, ca: certs.ca, clientCertAuth: true } : undefined;
        await using etcd = await startEtcd({ tls: etcdTls });
        await enableEtcdAuth(etcd, "s3cret", etcdTls);
        // Deno's TLS checks certificates for DNS names: name etcd "localhost".
        const endpoints = [secure ? etcd.url.replace("127.0.0.1", "localhost") : etcd.url];
        const tls = secure
          ? {
            ca: certs.read(certs.ca),
            cert: certs.read(certs.client.cert),
            key: certs.read(certs.client.key),
          }
          : undefined;
        const client = (username?: string, password?: string) =>
          openEtcd3({ endpoints, username, password, tls });

        const good = client("root", "s3cret");
        const registrar = new EtcdRegistrar(good, "127.0.0.1:8001");
        const discovery = new EtcdDiscovery(good);
        try {
          await registrar.start({ timeout: 5000 });
          assert.deepEqual(await discovery.start({ timeout: 5000 }), ["127.0.0.1:8001"]);
        } finally {
          await discovery.stop();
          await registrar.stop();
          good.close();
        }
        const cases: [string, string | undefined, string | undefined, RegExp][] = [
          ["a wrong password", "root", "wrong", /etcd refused the user name or password$/],
          ["an unknown user", "nobody", "s3cret", /etcd refused the user name or password$/],
          ["no credentials", undefined, undefined, /etcd (requires a user name|denied this user)/],
        ];
        for (const [name, username, password, expected] of cases) {
          const bad = client(username, password);
          try {
            // A timeout far longer than the test waits: the refusal is not retried.
            const started = new EtcdRegistrar(bad, "127.0.0.1:8002").start({ timeout: 60_000 });
            const error = await started.then(() => undefined, (error: Error) => error);
            assert.ok(error, name);
            assert.match(error.message, expected, name);
            assert.match(error.message, /^Cannot register in etcd at /, name);
            assert.doesNotMatch(error.message, /\n/);
          } finally {
            bad.close();
          }
        }
      });
    }
  },
});
