// A cluster deployed as docs/SECURITY.md says, on several loopback "hosts":
// mutual TLS on every gRPC hop, gateway tokens, etcd with authentication,
// and routing that no Host header can move. Real processes, started by the
// `deno task` commands; certificates made by openssl. grpc-js keeps timers
// after its channels close, so the sanitizers are off.
import assert from "node:assert/strict";
import { HashRing } from "../mod.ts";
import { GrpcPeer } from "../src/grpc/peer.ts";
import type { TlsOptions } from "../src/grpc/tls.ts";
import { makeCerts, type TestCerts } from "../src/_testing/certs.ts";
import { enableEtcdAuth, startEtcd } from "../src/_testing/etcd.ts";
import { Origin, type Process, startTask, waitFor } from "./_cluster.ts";
import { freePort } from "../src/_testing/ports.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

function tlsFlags(certs: TestCerts): string[] {
  return ["--tls-cert", certs.node.cert, "--tls-key", certs.node.key, "--tls-ca", certs.ca];
}

async function commandLines(processes: Process[]): Promise<string> {
  const pids = (await Promise.all(processes.map((p) => p.tree()))).flat();
  const script = pids.map((pid) => `tr '\\0' ' ' < /proc/${pid}/cmdline; echo`).join(";");
  const { stdout } = await new Deno.Command("sh", { args: ["-c", script] }).output();
  return new TextDecoder().decode(stdout);
}

Deno.test({
  name: "Nodes on 127.0.0.2 and 127.0.0.3 and a gateway on 127.0.0.1, started by deno task, " +
    "serve every value over mutual TLS, refuse other clients, and take writes only with the token",
  ...sanitizers,
  async fn() {
    await using certs = await makeCerts();
    await using etcd = await startEtcd();
    await using origin = new Origin();
    for (let i = 0; i < 40; i++) origin.values.set(`k${i}`, `value ${i}`);
    const hosts = ["127.0.0.2", "127.0.0.3"];
    const addrs = hosts.map((host) => `${host}:${freePort()}`);
    const cluster = ["--etcd", etcd.endpoint, ...tlsFlags(certs)];
    await using a = await startTask("node", [
      "--addr",
      addrs[0],
      ...cluster,
      "--origin",
      `v=${origin.url}`,
    ]);
    await using b = await startTask("node", [
      "--addr",
      addrs[1],
      ...cluster,
      "--origin",
      `v=${origin.url}`,
    ]);
    const token = `token-${crypto.randomUUID()}`;
    const gatewayAddr = `127.0.0.1:${freePort()}`;
    await using gateway = await startTask("gateway", ["--addr", gatewayAddr, ...cluster], {
      env: { MCCACHE_TOKEN: token },
    });
    const base = `http://${gatewayAddr}`;
    await waitFor(
      async () =>
        /mccache_gateway_members\{protocol="mccache.v1"\} 2\b/.test(
          await (await fetch(`${base}/metrics`)).text(),
        ),
      "the gateway reaches both nodes over TLS",
    );
    const ring = new HashRing();
    ring.add(...addrs);
    for (let i = 0; i < 40; i++) {
      const response = await fetch(`${base}/mccache/v/k${i}`);
      assert.equal(await response.text(), `value ${i}`);
    }
    for (const load of origin.loads) assert.equal(load.node, ring.get(load.key));
    assert.equal(origin.loads.length, 40, "each key loaded once, by its owner");

    const put = (headers: HeadersInit) =>
      fetch(`${base}/mccache/v/k1`, { method: "PUT", body: "new", headers });
    const refused = await put({});
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), { error: "Missing or wrong bearer token" });
    assert.equal((await put({ authorization: "Bearer wrong" })).status, 401);
    assert.equal((await put({ authorization: `Bearer ${token}` })).status, 204);
    assert.equal(await (await fetch(`${base}/mccache/v/k1`)).text(), "new");

    // No command line, log line or metric holds the token.
    assert.ok(!(await commandLines([a, b, gateway])).includes(token));
    assert.ok(![...a.lines, ...b.lines, ...gateway.lines].some((line) => line.includes(token)));
    assert.ok(!(await (await fetch(`${base}/metrics`)).text()).includes(token));

    // A rogue node registers in the same etcd, in plaintext, with wrong
    // values: no TLS member can talk to it, so no key gets its value. (Last:
    // while it is registered, a write of a key it would own fails.)
    await using rogueOrigin = new Origin();
    for (let i = 0; i < 100; i++) rogueOrigin.values.set(`fresh${i}`, "wrong");
    for (let i = 0; i < 100; i++) origin.values.set(`fresh${i}`, `fresh value ${i}`);
    await using _rogue = await startTask("node", [
      "--addr",
      `127.0.0.1:${freePort()}`,
      "--etcd",
      etcd.endpoint,
      "--origin",
      `v=${rogueOrigin.url}`,
    ]);
    await waitFor(
      async () =>
        /mccache_gateway_ring_members 3\b/.test(await (await fetch(`${base}/metrics`)).text()),
      "the gateway sees the rogue's registration",
    );
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${base}/mccache/v/fresh${i}`);
      assert.equal(await response.text(), `fresh value ${i}`);
    }
    assert.equal(rogueOrigin.loads.length, 0, "the rogue served nothing");

    const tls: TlsOptions = {
      cert: certs.read(certs.client.cert),
      key: certs.read(certs.client.key),
      ca: certs.read(certs.ca),
    };
    const clients: [string, GrpcPeer, boolean][] = [
      ["with the cluster's certificate", new GrpcPeer(addrs[0], { tls }), true],
      ["plaintext", new GrpcPeer(addrs[0], { timeout: 2000 }), false],
      [
        "another CA's certificate",
        new GrpcPeer(addrs[0], {
          timeout: 2000,
          tls: { ...tls, cert: certs.read(certs.foreign.cert), key: certs.read(certs.foreign.key) },
        }),
        false,
      ],
    ];
    for (const [name, peer, served] of clients) {
      try {
        const get = peer.get({ group: "v", key: "k2" }, {});
        if (served) assert.equal(new TextDecoder().decode((await get).value), "value 2", name);
        else await assert.rejects(get, { name: "PeerError" }, name);
      } finally {
        peer.close();
      }
    }
  },
});

Deno.test({
  name:
    "A node and a gateway reach etcd with authentication, plain and over TLS; a wrong password exits " +
    "non-zero with one line that says so",
  ...sanitizers,
  async fn(t) {
    await using certs = await makeCerts();
    for (const secure of [false, true]) {
      await t.step(
        secure ? "https, a client certificate, a password file" : "plaintext",
        async () => {
          const tls = secure ? { ...certs.etcd, ca: certs.ca, clientCertAuth: true } : undefined;
          await using etcd = await startEtcd({ tls });
          await enableEtcdAuth(etcd, "s3cret", tls);
          const endpoint = secure ? etcd.url.replace("127.0.0.1", "localhost") : etcd.endpoint;
          const etcdFlags = secure
            ? [
              "--etcd-ca",
              certs.ca,
              "--etcd-cert",
              certs.client.cert,
              "--etcd-key",
              certs.client.key,
            ]
            : [];
          // The password in a file over TLS, in the environment in plaintext.
          const start = (task: "node" | "gateway", password: string, addr: string) => {
            const file = `${certs.dir}/password`;
            if (secure) Deno.writeTextFileSync(file, `${password}\n`);
            const secret = secure ? ["--etcd-password-file", file] : [];
            const env: Record<string, string> = secure ? {} : { MCCACHE_ETCD_PASSWORD: password };
            const cluster = ["--etcd", endpoint, "--etcd-user", "root", "--etcd-timeout", "30s"];
            const args = ["--addr", addr, ...cluster, ...etcdFlags, ...secret];
            return startTask(task, args, { env });
          };
          const nodeAddr = `127.0.0.1:${freePort()}`;
          await using node = await start("node", "s3cret", nodeAddr);
          assert.ok(node.lines.some((line) => /Registered in etcd/.test(line)), node.tail());
          const gatewayAddr = `127.0.0.1:${freePort()}`;
          await using _gateway = await start("gateway", "s3cret", gatewayAddr);
          const metrics = await (await fetch(`http://${gatewayAddr}/metrics`)).text();
          assert.match(metrics, /mccache_gateway_ring_members 1\b/, "the gateway found the node");
          // A timeout far longer than the test waits: the refusal is not retried.
          const failed = await start("node", "wrong", `127.0.0.1:${freePort()}`).then(
            () => undefined,
            (error: Error) => error.message,
          );
          assert.ok(failed, "a wrong password must not start");
          const lines = failed.split("\n").filter((line) => line.startsWith("cli/node.ts"));
          assert.deepEqual(lines.length, 1, failed);
          assert.match(lines[0], /etcd refused the user name or password$/);
        },
      );
    }
  },
});

// A raw HTTP/1.1 request, so that the Host header is what the test says.
async function rawGet(addr: string, path: string, host: string | null): Promise<string> {
  const [hostname, port] = addr.split(":");
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const hostLine = host === null ? "" : `Host: ${host}\r\n`;
  await conn.write(
    new TextEncoder().encode(`GET ${path} HTTP/1.1\r\n${hostLine}Connection: close\r\n\r\n`),
  );
  let text = "";
  for await (const chunk of conn.readable) text += new TextDecoder().decode(chunk);
  const [head, body] = text.split("\r\n\r\n");
  return `${head.split(" ")[1]} ${body}`;
}

Deno.test({
  name: "The gateway routes by the request's path alone: no Host header gets another key",
  ...sanitizers,
  async fn() {
    await using origin = new Origin();
    origin.values.set("k1", "one");
    origin.values.set("k2", "two");
    const nodeAddr = `127.0.0.1:${freePort()}`;
    await using _node = await startTask("node", [
      "--addr",
      nodeAddr,
      "--peers",
      nodeAddr,
      "--origin",
      `scores=${origin.url}`,
    ]);
    const addr = `127.0.0.1:${freePort()}`;
    await using _gateway = await startTask("gateway", ["--addr", addr, "--peers", nodeAddr]);
    const cases: [string | null, string][] = [
      ["x/mccache/scores/k2?", "400"],
      ["a/b", "400"],
      ["a?b", "400"],
      ["a#b", "400"],
      ["%2F", "200 one"],
      ["", "200 one"],
      [null, "200 one"],
      [addr, "200 one"],
    ];
    for (const [host, expected] of cases) {
      const answer = await rawGet(addr, "/mccache/scores/k1", host);
      assert.ok(answer.startsWith(expected), `Host ${JSON.stringify(host)}: ${answer}`);
      assert.ok(!answer.includes("two"), `Host ${JSON.stringify(host)}: ${answer}`);
      if (expected === "400") assert.match(answer, /"Invalid Host header"/);
    }
    // Nor a write's target.
    assert.equal(origin.loadsOf("k2"), 0);
  },
});
